import { isTabMessage, type TabChannel, type TabMessage } from './protocol'

/** Channels that reach each other, like the `BroadcastChannel`s of one name in the tabs of one browser. */
export interface MemoryChannelBus {
  /** A new channel on the bus (one per tab). */
  channel(): TabChannel
}

/**
 * `BroadcastChannel` in memory, for tests and Node: a post reaches every OTHER open channel of the bus, never its own,
 * asynchronously through `deliver` (a microtask by default), as a structured copy. `drop(message)` is asked once per
 * recipient; true loses that copy (tests of lost messages).
 *
 * @example const bus = createMemoryChannelBus({ drop: () => Math.random() < 0.1 }); const a = bus.channel(), b = bus.channel()
 */
export function createMemoryChannelBus({
  deliver = queueMicrotask,
  drop,
}: {
  deliver?: (fn: () => void) => void
  drop?: (message: TabMessage) => boolean
} = {}): MemoryChannelBus {
  const open = new Set<Set<(message: TabMessage) => void>>()
  return {
    channel() {
      const listeners = new Set<(message: TabMessage) => void>()
      open.add(listeners)
      return {
        post(message) {
          if (!open.has(listeners)) throw new Error('The channel is closed')
          for (const other of open) {
            if (other === listeners || drop?.(message)) continue
            const copy = structuredClone(message)
            deliver(() => {
              if (open.has(other)) for (const listener of [...other]) listener(copy)
            })
          }
        },
        subscribe(listener) {
          listeners.add(listener)
          return () => listeners.delete(listener)
        },
        close() {
          open.delete(listeners)
          listeners.clear()
        },
      }
    },
  }
}

/**
 * The tab channel over the global `BroadcastChannel` named `name` (browsers, and Node ≥ 18 between its instances and
 * workers). Data that is not a tab message (`isTabMessage`) is ignored.
 *
 * @example const channel = createBroadcastTabChannel('talemy.tabs.u1'); const off = channel.subscribe(onMessage)
 */
export function createBroadcastTabChannel(name: string): TabChannel {
  const channel = new BroadcastChannel(name)
  const listeners = new Set<(message: TabMessage) => void>()
  channel.onmessage = (event: MessageEvent) => {
    if (!isTabMessage(event.data)) return
    for (const listener of [...listeners]) listener(event.data)
  }
  let closed = false
  return {
    post(message) {
      // A late answer (an ack, a join) after the store was disposed: nobody is listening, and a closed
      // BroadcastChannel would throw into Socket.IO's callback.
      if (closed) return
      channel.postMessage(message)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      closed = true
      listeners.clear()
      channel.close()
    },
  }
}
