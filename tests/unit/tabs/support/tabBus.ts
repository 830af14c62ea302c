import type { TabChannel, TabMessage, Visibility } from '../../../../src/realtime/tabs/protocol'
import type { Timers } from '../../../../src/realtime/timers'

/**
 * The tabs of one browser, in memory: each `channel()` is one tab's end. A post is queued (as a BroadcastChannel
 * delivers in a later task, never to its sender) until the test calls `deliver()`, so each test says exactly when
 * messages arrive and can check what happened inside the delivery of one message. `{ deliverAtOnce: true }`: each
 * post is delivered as it is made (in order, never re-entrantly), for tests that only care about what arrives.
 */
export function memoryBus({ deliverAtOnce = false } = {}) {
  const ends = new Set<{ listeners: Set<(message: TabMessage) => void> }>()
  const queue: { from: object; message: TabMessage }[] = []
  /** Every message posted on the bus, in order. */
  const posted: TabMessage[] = []

  function channel(): TabChannel {
    const end = { listeners: new Set<(message: TabMessage) => void>() }
    ends.add(end)
    return {
      post(message) {
        posted.push(message)
        queue.push({ from: end, message })
        if (deliverAtOnce) deliver()
      },
      subscribe(listener) {
        end.listeners.add(listener)
        return () => end.listeners.delete(listener)
      },
      close() {
        ends.delete(end)
      },
    }
  }

  let delivering = false
  /**
   * Delivers the queued messages one at a time, in order (those posted meanwhile too); returns how many. Never
   * re-entrant: called while delivering (a listener that posts and delivers), it leaves the rest to the running loop.
   */
  function deliver(): number {
    if (delivering) return 0
    delivering = true
    let count = 0
    try {
      for (let next = queue.shift(); next; next = queue.shift()) {
        count++
        for (const end of [...ends])
          if (end !== next.from) for (const listener of [...end.listeners]) listener(structuredClone(next.message))
      }
    } finally {
      delivering = false
    }
    return count
  }

  /** How many listeners are subscribed, over every end. */
  const subscribers = () => [...ends].reduce((n, end) => n + end.listeners.size, 0)

  return { channel, deliver, posted, queued: () => queue.length, subscribers }
}

/**
 * The holder's side, scripted by the test: what it posts (`send`), and what followers posted to it (`inbox`).
 * It answers nothing by itself.
 */
export function scriptedHolder(bus: ReturnType<typeof memoryBus>, tabId = 'holder-tab') {
  const channel = bus.channel()
  const inbox: TabMessage[] = []
  channel.subscribe((message) => inbox.push(message))
  return {
    tabId,
    inbox,
    /**
     * Posts a holder message (with this holder as `from`) and delivers it. An `attached` without its `attachId`
     * answers the last `attach` the tab it is for posted (what a hub does).
     */
    send(message: SentByHolder) {
      bus.deliver()
      let full = { ...message, from: tabId } as TabMessage
      if (full.kind === 'attached' && (message as { attachId?: number }).attachId === undefined) {
        const to = full.to
        const last = inbox.filter((m) => m.kind === 'attach' && m.from === to).at(-1) as
          | Extract<TabMessage, { kind: 'attach' }>
          | undefined
        full = { ...full, attachId: last?.attachId ?? -1 }
      }
      channel.post(full)
      bus.deliver()
    },
    /** What followers posted of one kind, in order. */
    received<K extends TabMessage['kind']>(kind: K): Extract<TabMessage, { kind: K }>[] {
      return inbox.filter((m): m is Extract<TabMessage, { kind: K }> => m.kind === kind)
    },
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
type Attached = Extract<TabMessage, { kind: 'attached' }>
/** What a scripted holder sends: any message without `from`; an `attached` may leave its `attachId` to the holder. */
type SentByHolder =
  | DistributiveOmit<Exclude<TabMessage, Attached>, 'from'>
  | (Omit<Attached, 'from' | 'attachId'> & { attachId?: number })

/** Timers on a virtual clock: `advance(ms)` fires what falls due, in time order. Nothing runs by itself. */
export function manualTimers(): Timers & { advance(ms: number): void; pending(): number; now(): number } {
  let now = 0
  let nextHandle = 1
  const timers = new Map<number, { at: number; callback: () => void }>()
  return {
    setTimeout(callback, ms) {
      timers.set(nextHandle, { at: now + ms, callback })
      return nextHandle++
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    advance(ms) {
      const end = now + ms
      for (;;) {
        const due = [...timers.entries()]
          .filter(([, t]) => t.at <= end)
          .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])
        const first = due[0]
        if (!first) break
        timers.delete(first[0])
        now = first[1].at
        first[1].callback()
      }
      now = end
    },
    pending: () => timers.size,
    now: () => now,
  }
}

/** A page's visibility the test can flip. */
export function fakeVisibility(initial = true): Visibility & { set(visible: boolean): void; subscribers(): number } {
  let visible = initial
  const listeners = new Set<() => void>()
  return {
    visible: () => visible,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    subscribers: () => listeners.size,
    set(next) {
      visible = next
      for (const listener of [...listeners]) listener()
    },
  }
}
