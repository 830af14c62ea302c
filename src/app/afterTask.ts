/**
 * Runs `callback` in a task of its own, after the current task and every microtask it queued (however many hops its
 * work takes): `setImmediate` where there is one (Node), else a `MessageChannel` message (browsers; unlike
 * `requestAnimationFrame` it also runs in a hidden tab), else a 0 ms timer.
 *
 * The store gives it to RTK's `autoBatchEnhancer` (`type: 'callback'`): a burst of auto-batched actions and the cache
 * work they queue reach subscribers as one notification. Taken when this module loads, so a test's fake timers do
 * not hold notifications back.
 *
 * @example afterTask(() => console.log('after this task and its microtasks'))
 */
export const afterTask: (callback: () => void) => void = pickAfterTask()

function pickAfterTask(): (callback: () => void) => void {
  if (typeof setImmediate === 'function') {
    const immediate = setImmediate
    return (callback) => void immediate(callback)
  }
  if (typeof MessageChannel === 'function') {
    const channel = new MessageChannel()
    const queue: Array<() => void> = []
    channel.port1.onmessage = () => queue.shift()?.()
    return (callback) => {
      queue.push(callback)
      channel.port2.postMessage(null)
    }
  }
  const timeout = setTimeout
  return (callback) => void timeout(callback, 0)
}
