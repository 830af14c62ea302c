import type { Timers } from '../../../../src/realtime/timers'

interface Task {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/**
 * A virtual clock with a task queue: tasks run in time order (FIFO at equal times), and time jumps from one task to
 * the next, so minutes of heartbeats take milliseconds and never depend on the machine's speed.
 *
 * @example const time = createVirtualTime(); time.after(500, tick); time.runUntil(10_000)
 */
export function createVirtualTime() {
  let now = 0
  let seq = 0
  const tasks: Task[] = []

  function at(when: number, fn: () => void): Task {
    const task: Task = { at: Math.max(when, now), seq: seq++, fn, cancelled: false }
    // Insert after every task due at the same time or earlier (binary search on a sorted array).
    let lo = 0
    let hi = tasks.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (tasks[mid]!.at <= task.at) lo = mid + 1
      else hi = mid
    }
    tasks.splice(lo, 0, task)
    return task
  }

  const after = (ms: number, fn: () => void) => at(now + ms, fn)

  /** Runs the next task; false when none is left. */
  function step(): boolean {
    const task = tasks.shift()
    if (!task) return false
    now = task.at
    if (!task.cancelled) task.fn()
    return true
  }

  /** Runs every task due up to `time` (calling `afterEach` after each), then sets the clock to `time`. */
  function runUntil(time: number, afterEach?: () => void) {
    while (tasks.length > 0 && tasks[0]!.at <= time) {
      step()
      afterEach?.()
    }
    now = Math.max(now, time)
  }

  const timers: Timers = {
    setTimeout: (fn, ms) => after(ms, fn),
    clearTimeout: (handle) => {
      ;(handle as Task).cancelled = true
    },
  }

  return {
    now: () => now,
    at,
    after,
    step,
    runUntil,
    timers,
    /** Tasks still due (cancelled ones excluded). */
    pending: () => tasks.filter((t) => !t.cancelled).length,
  }
}

export type VirtualTime = ReturnType<typeof createVirtualTime>

/** A small seeded PRNG (mulberry32): the same seed gives the same run, so a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
