// Which rooms the one socket should be in: the rooms wanted by the visible tabs. Pure, tested as tables; the hub
// performs the joins and leaves.
import type { Id } from '../../contract'

/** One tab's part in the union: whether its page is visible, and the conversations it has open. */
export interface TabWants {
  visible: boolean
  wants: ReadonlySet<Id>
}

/**
 * The rooms the socket should be in: every room wanted by a visible tab. A hidden tab's rooms do not count, so a
 * conversation open only in a background tab is not marked read.
 *
 * @example roomUnion([{ visible: true, wants: new Set(['c1']) }, { visible: false, wants: new Set(['c2']) }]) // Set { 'c1' }
 */
export function roomUnion(tabs: Iterable<TabWants>): Set<Id> {
  const union = new Set<Id>()
  for (const tab of tabs) if (tab.visible) for (const room of tab.wants) union.add(room)
  return union
}

/** The joins and leaves that take the socket from the rooms it is in (or joining) to the union. */
export interface RoomChanges {
  join: Id[]
  leave: Id[]
}

/**
 * The rooms to join (in the union, not yet in) and to leave (in, no longer in the union), each in a stable order.
 *
 * @example roomChanges(['c1', 'c2'], new Set(['c2', 'c3'])) // { join: ['c3'], leave: ['c1'] }
 */
export function roomChanges(current: Iterable<Id>, union: ReadonlySet<Id>): RoomChanges {
  const inNow = new Set(current)
  return {
    join: [...union].filter((room) => !inNow.has(room)),
    leave: [...inNow].filter((room) => !union.has(room)),
  }
}
