import type { UnknownAction } from '@reduxjs/toolkit'

const MASK = '********'

/** The same value with `originalArgs.password` masked, or the value itself when there is none. */
function withArgsMasked<T>(holder: T): T {
  const args = (holder as { originalArgs?: unknown } | null | undefined)?.originalArgs
  if (typeof args !== 'object' || args === null || !('password' in args)) return holder
  return { ...holder, originalArgs: { ...args, password: MASK } }
}

/**
 * Redux DevTools: the login mutation's `{ email, password }` rides in its actions' `meta.arg.originalArgs` (RTK
 * Query's `executeMutation` pending/fulfilled/rejected). What DevTools are shown has any `password` of an endpoint's
 * arguments masked; the store itself is untouched.
 *
 * @example devToolsActionSanitizer(pendingLogin).meta.arg.originalArgs // { email, password: '********' }
 */
export function devToolsActionSanitizer<A extends UnknownAction>(action: A): A {
  const meta = (action as { meta?: { arg?: unknown } }).meta
  const arg = meta?.arg
  const masked = withArgsMasked(arg)
  return masked === arg ? action : { ...action, meta: { ...meta, arg: masked } }
}

/**
 * DevTools' view of the state: a tracked mutation entry that carries its arguments gets its `password` masked.
 *
 * @example devToolsStateSanitizer(state, api.reducerPath).api.mutations[id].originalArgs.password // '********'
 */
export function devToolsStateSanitizer<S>(state: S, reducerPath: string): S {
  const api = (state as Record<string, { mutations?: Record<string, unknown> } | undefined> | null)?.[reducerPath]
  const mutations = api?.mutations
  if (!mutations) return state
  let changed = false
  const shown: Record<string, unknown> = {}
  for (const [key, entry] of Object.entries(mutations)) {
    shown[key] = withArgsMasked(entry)
    if (shown[key] !== entry) changed = true
  }
  return changed ? { ...state, [reducerPath]: { ...api, mutations: shown } } : state
}
