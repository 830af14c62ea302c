import { describe, expect, test } from 'vitest'
import { exactlyOnceLedger, type ExactlyOnce } from '../../bench/lib/exactlyOnce'

// P15 counts handoffs after which a remaining tab had B's message other than exactly once. Read only at the moment
// the message was first seen in every tab, a copy that came later (a replay after the handoff) or a message that went
// away later passed; so did one shown twice before that moment and put right by it.

interface State {
  thread: { content: string }[] | undefined
}

function fakeTab(id: string) {
  let state: State = { thread: [] }
  const listeners = new Set<() => void>()
  return {
    id,
    store: {
      getState: () => state,
      subscribe(listener: () => void) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    },
    /** The tab's thread now holds these messages (a store notification). */
    show(...contents: string[]) {
      state = { thread: contents.map((content) => ({ content })) }
      for (const listener of listeners) listener()
    },
  }
}

type Tab = ReturnType<typeof fakeTab>
type Steps = (a: Tab, b: Tab, ledger: ExactlyOnce<State>) => void

const cases: [string, Steps, string[]][] = [
  [
    'once throughout',
    (a, b, ledger) => {
      a.show('m')
      b.show('m')
      ledger.arrived('m')
      a.show('x', 'm')
    },
    [],
  ],
  [
    'a copy after the moment (a late replay)',
    (a, b, ledger) => {
      a.show('m')
      b.show('m')
      ledger.arrived('m')
      b.show('m', 'm')
    },
    ['m'],
  ],
  [
    'gone after the moment',
    (a, b, ledger) => {
      a.show('m')
      b.show('m')
      ledger.arrived('m')
      a.show('x')
    },
    ['m'],
  ],
  [
    'twice before the moment, once at it',
    (a, b, ledger) => {
      a.show('m', 'm')
      a.show('m')
      b.show('m')
      ledger.arrived('m')
    },
    ['m'],
  ],
  [
    'twice at the moment',
    (a, b, ledger) => {
      a.show('m')
      b.show('m', 'm')
      ledger.arrived('m')
    },
    ['m'],
  ],
  [
    'a tab that closed is read no more',
    (a, b, ledger) => {
      a.show('m')
      b.show('m')
      ledger.arrived('m')
      ledger.leave(a.id)
      a.show()
    },
    [],
  ],
]

describe('exactly once over the whole window (P15)', () => {
  test.each(cases)('%s', (_name, steps, bad) => {
    const ledger = exactlyOnceLedger<State>((s) => s.thread)
    const a = fakeTab('a')
    const b = fakeTab('b')
    ledger.expect('m', [a, b])
    steps(a, b, ledger)
    expect(ledger.end()).toEqual(bad)
  })
})
