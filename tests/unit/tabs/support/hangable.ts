import type { TabChannel, TabLock } from '../../../../src/realtime/tabs/protocol'
import type { Timers } from '../../../../src/realtime/timers'
import type { aBrowser } from './tabStores'

/**
 * Tab `id`'s page can hang: what is posted to it and what its lock says wait until it wakes; what it posts is lost. Its
 * timers run on (the test's fake timers are the whole process's), unless `stopsTimers`: then those that fall due while
 * it hangs run as it wakes. Call before the tab is opened.
 */
export function hangable(b: ReturnType<typeof aBrowser>, id: string, { stopsTimers = false } = {}) {
  const tab = b.edges.tab
  let hung = false
  const queued: (() => void)[] = []
  const later = (fn: () => void) => (hung ? void queued.push(fn) : fn())
  if (stopsTimers) {
    const others = b.timersOf.get
    const timers: Timers = {
      setTimeout: (fn, ms) => setTimeout(() => later(fn), ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    }
    b.timersOf.get = (tabId) => (tabId === id ? timers : others(tabId))
  }
  b.edges.tab = (tabId) => {
    const own = tab(tabId)
    if (tabId !== id) return own
    const channel: TabChannel = {
      post: (message) => own.channel.post(message),
      subscribe: (listener) => own.channel.subscribe((message) => later(() => listener(message))),
      close: () => own.channel.close(),
    }
    const lock: TabLock = {
      request: (name, options, handlers) =>
        own.lock.request(name, options, {
          onAcquired: () => later(() => handlers.onAcquired()),
          onLost: () => later(() => handlers.onLost()),
        }),
      held: (name) => new Promise<boolean>((resolve) => later(() => void own.lock.held!(name).then(resolve))),
      watch: (name, handlers) => own.lock.watch!(name, handlers),
    }
    return { channel, lock }
  }
  return {
    hang() {
      hung = true
      b.edges.silence(id, true)
    },
    /** Its page runs again: it can post; what waited for it comes after what `first` does (its own overdue tasks). */
    wake(first: () => void = () => {}) {
      b.edges.silence(id, false)
      first()
      hung = false
      for (const fn of queued.splice(0)) fn()
    },
  }
}
