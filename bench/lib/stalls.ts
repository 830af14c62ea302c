import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'

/** What held one process's event loop while it was watched: its loop's delay and its garbage collector's pauses. */
export interface Stalls {
  /** The event loop's delay (how late a timer ran), p99 and worst, ms. */
  loopP99Ms: number
  loopMaxMs: number
  /** Garbage-collection pauses: how many, their sum and the longest, ms. */
  gcCount: number
  gcTotalMs: number
  gcMaxMs: number
}

/**
 * Starts watching this process for stalls. A latency figure that misses says only that messages were late; this says
 * in which process the time went (the server's, or a client's: they share the machine's cores).
 *
 * @example const watch = watchStalls(); … const stalls = watch.stop()
 */
export function watchStalls(): { stop(): Stalls } {
  // 5 ms: finer than the 50 ms a P7 p99 is held to, coarse enough to cost the watched loop nothing measurable.
  const resolutionMs = 5
  const loop = monitorEventLoopDelay({ resolution: resolutionMs })
  let gcCount = 0
  let gcTotalMs = 0
  let gcMaxMs = 0
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++
      gcTotalMs += entry.duration
      gcMaxMs = Math.max(gcMaxMs, entry.duration)
    }
  })
  gc.observe({ entryTypes: ['gc'] })
  loop.enable()
  return {
    stop() {
      loop.disable()
      gc.disconnect()
      // The histogram records each tick's interval in nanoseconds, the resolution included: the lateness is what is
      // beyond it. With no sample (a watch shorter than one tick) it reads 0.
      const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - resolutionMs) : 0)
      return {
        loopP99Ms: loop.count > 0 ? ms(loop.percentile(99)) : 0,
        loopMaxMs: loop.count > 0 ? ms(loop.max) : 0,
        gcCount,
        gcTotalMs,
        gcMaxMs,
      }
    },
  }
}

/** One line for a log or a row's name. */
export function describeStalls(s: Stalls): string {
  return `event-loop delay p99 ${s.loopP99Ms.toFixed(1)} ms, worst ${s.loopMaxMs.toFixed(1)} ms; GC ${s.gcCount} pauses, ${s.gcTotalMs.toFixed(1)} ms in all, the longest ${s.gcMaxMs.toFixed(1)} ms`
}
