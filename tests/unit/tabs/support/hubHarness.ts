import type { Timers } from '../../../../src/realtime/timers'
import type { TabChannel, TabMessage, Visibility } from '../../../../src/realtime/tabs/protocol'

/**
 * The tabs of one browser on a channel, in memory: a post reaches every other endpoint (never its sender), in the
 * order posted, as a `BroadcastChannel` delivers. Delivery is synchronous but never re-entrant: a post made while
 * delivering waits for the current one to finish.
 */
export function memoryBus() {
  const endpoints = new Set<{ listeners: Set<(m: TabMessage) => void> }>()
  const queue: { from: object; message: TabMessage }[] = []
  let delivering = false

  function drain() {
    if (delivering) return
    delivering = true
    try {
      for (let item = queue.shift(); item; item = queue.shift()) {
        for (const endpoint of [...endpoints]) {
          if (endpoint === item.from) continue
          for (const listener of [...endpoint.listeners]) listener(structuredClone(item.message))
        }
      }
    } finally {
      delivering = false
    }
  }

  return {
    channel(): TabChannel {
      const endpoint = { listeners: new Set<(m: TabMessage) => void>() }
      endpoints.add(endpoint)
      return {
        post(message) {
          queue.push({ from: endpoint, message })
          drain()
        },
        subscribe(listener) {
          endpoint.listeners.add(listener)
          return () => endpoint.listeners.delete(listener)
        },
        close() {
          endpoints.delete(endpoint)
        },
      }
    },
  }
}

/** A follower tab as the test drives it: posts what a proxy would, and records what it receives. */
let attachIds = 0

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

/** Timers on a clock the test moves (`advance`), so "silent for 1.5 s" needs no wall-clock wait. */
export function manualClock(): Timers & { advance(ms: number): void; pending(): number } {
  let now = 0
  let next = 1
  const due = new Map<number, { at: number; callback: () => void }>()
  return {
    setTimeout(callback, ms) {
      due.set(next, { at: now + ms, callback })
      return next++
    },
    clearTimeout(handle) {
      due.delete(handle as number)
    },
    advance(ms) {
      const until = now + ms
      for (;;) {
        const first = [...due.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
        if (!first) break
        due.delete(first[0])
        now = first[1].at
        first[1].callback()
      }
      now = until
    },
    pending: () => due.size,
  }
}

/** A page's visibility the test flips. */
export function testVisibility(initial = true): Visibility & { set(visible: boolean): void } {
  let visible = initial
  const listeners = new Set<() => void>()
  return {
    visible: () => visible,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    set(value) {
      visible = value
      for (const listener of [...listeners]) listener()
    },
  }
}
