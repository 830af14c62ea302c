import type { TabChannel } from '../../../../src/realtime/tabs/protocol'
import type { Timers } from '../../../../src/realtime/timers'
import type { createVirtualTime } from './virtualTime'

/**
 * A page on a virtual clock that can freeze (a long task, a GC, the debugger): its timers and what reaches it on
 * `inner` wait until it thaws, then run in the worst order a browser may choose, timers first (timers and messages
 * are different task sources, whose order it does not promise).
 *
 * @example const page = freezablePage(time, bus.channel()); createTabHub({ channel: page.channel, timers: page.timers, … }); page.freeze(4500)
 */
export function freezablePage(time: ReturnType<typeof createVirtualTime>, inner: TabChannel) {
  let frozen = false
  const overdue: (() => void)[] = []
  const heard: (() => void)[] = []
  const channel: TabChannel = {
    post: inner.post,
    subscribe: (listener) =>
      inner.subscribe((message) => (frozen ? void heard.push(() => listener(message)) : listener(message))),
    close: inner.close,
  }
  const timers: Timers = {
    setTimeout: (fn, ms) => time.timers.setTimeout(() => (frozen ? void overdue.push(fn) : fn()), ms),
    clearTimeout: time.timers.clearTimeout,
  }
  return {
    channel,
    timers,
    /** The page stops for `ms`; `first`: what it does on thawing before its timers and messages run (shown, say). */
    freeze(ms: number, first?: () => void) {
      frozen = true
      time.after(ms, () => {
        frozen = false
        first?.()
        for (const fn of overdue.splice(0)) fn()
        for (const fn of heard.splice(0)) fn()
      })
    },
  }
}
