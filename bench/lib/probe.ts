import type { Middleware } from '@reduxjs/toolkit'
import { nowNs, withTimeout } from './stats'

/**
 * Watches a store for "the thing arrived": `middleware` (put first in the chain) checks the state after every action
 * has passed through all middleware and reducers — the moment it is in the cache; `attach(store)` also checks on
 * every store notification — the moment a subscriber (a component) can see it.
 */
export class ArrivalProbe<S = unknown> {
  private check: ((state: S) => boolean) | null = null
  /**
   * What of the state the predicate reads (`expect`'s `part`; the whole state by default): a state whose part is
   * unchanged is not checked again. The layer's state changes at every logged event (its applied offset), a client that
   * keeps no offset's does not: without it, the observer's check ran once per event for the layer only.
   */
  private part: (state: S) => unknown = (state) => state
  private onCache: ((t: number) => void) | null = null
  private onVisible: ((t: number) => void) | null = null
  /** Store notifications since `resetNotifications`. */
  notifications = 0
  /** Actions seen since `resetNotifications`. */
  actions = 0

  /**
   * The last state (its `part`) the predicate was false for, per observer: the predicate is a function of it, so an
   * action that leaves it as it was (most of a burst's) is not checked again. Less observer cost, the same answer.
   */
  private seenInCache: unknown = undefined
  private seenVisible: unknown = undefined

  readonly middleware: Middleware = (api) => (next) => (action) => {
    const result = next(action)
    this.actions++
    if (this.onCache && this.holds(api.getState() as S, 'seenInCache')) {
      const resolve = this.onCache
      this.onCache = null
      resolve(nowNs())
    }
    return result
  }

  attach(store: { subscribe(listener: () => void): () => void; getState(): unknown }): () => void {
    return store.subscribe(() => {
      this.notifications++
      if (this.onVisible && this.holds(store.getState() as S, 'seenVisible')) {
        const resolve = this.onVisible
        this.onVisible = null
        resolve(nowNs())
      }
    })
  }

  private holds(state: S, seen: 'seenInCache' | 'seenVisible'): boolean {
    const part = this.part(state)
    if (part === this[seen]) return false
    if (this.check!(state)) return true
    this[seen] = part
    return false
  }

  resetCounts(): void {
    this.notifications = 0
    this.actions = 0
  }

  /** Arms the probe: resolves with the nanosecond time the predicate first holds after an action / a notification. */
  expect(
    check: (state: S) => boolean,
    part: (state: S) => unknown = (state) => state,
  ): { inCache: Promise<number>; visible: Promise<number> } {
    this.check = check
    this.part = part
    this.seenInCache = undefined
    this.seenVisible = undefined
    const inCache = new Promise<number>((resolve) => {
      this.onCache = resolve
    })
    const visible = new Promise<number>((resolve) => {
      this.onVisible = resolve
    })
    return { inCache, visible }
  }
}

/**
 * Resolves the moment a store notification (or the state now) satisfies `predicate`: no polling, so waiting costs
 * the measured client nothing between notifications. Rejects after `timeoutMs`.
 */
export function untilState<S>(
  store: { subscribe(l: () => void): () => void; getState(): S },
  predicate: (state: S) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  if (predicate(store.getState())) return Promise.resolve()
  let off = () => {}
  const reached = new Promise<void>((resolve) => {
    off = store.subscribe(() => {
      if (predicate(store.getState())) resolve()
    })
  })
  return withTimeout(reached, timeoutMs, what).finally(() => off())
}
