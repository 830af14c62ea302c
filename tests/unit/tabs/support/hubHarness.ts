import type { TabMessage } from '../../../../src/realtime/tabs/protocol'
import { memoryBus as memoryQueue } from './tabBus'

/** The tabs of one browser on a channel, in memory: a post reaches every other endpoint at once, in order. */
export const memoryBus = () => memoryQueue({ deliverAtOnce: true })

let attachIds = 0

/** A follower tab as the test drives it: posts what a proxy would, and records what it receives. */
export function testTab(bus: ReturnType<typeof memoryBus>, tabId: string) {
  const channel = bus.channel()
  const received: TabMessage[] = []
  channel.subscribe((m) => received.push(m))
  const post = (m: TabMessage) => channel.post(m)
  return {
    tabId,
    received,
    /** What it received of one kind (addressed to it, or to everyone). */
    got<K extends TabMessage['kind']>(kind: K): Extract<TabMessage, { kind: K }>[] {
      return received.filter(
        (m): m is Extract<TabMessage, { kind: K }> =>
          m.kind === kind && (!('to' in m) || (m as { to: string }).to === tabId),
      )
    },
    attach(userId: string, offset: number | null = null, epoch: string | null = null, visible = true) {
      post({ kind: 'attach', from: tabId, attachId: ++attachIds, userId, resume: { offset, epoch }, visible })
    },
    detach: () => post({ kind: 'detach', from: tabId }),
    alive: (visible = true) => post({ kind: 'alive', from: tabId, visible }),
    emit(id: number | null, event: string, args: unknown[], timeoutMs: number | null = 5000, to = 'holder') {
      post({ kind: 'emit', from: tabId, to, id, event, args, timeoutMs })
    },
    /** The ack for emit `id`, if it came. */
    ack: (id: number) => received.find((m) => m.kind === 'ack' && m.to === tabId && m.id === id),
  }
}
