import type { Action, Middleware, Reducer } from '@reduxjs/toolkit'
import { PREFIX } from '../realtime'

/**
 * The store's shortcut past RTK Query, kept because it is measured to matter: the realtime layer's own `socket/…`
 * actions — a burst of server events is thousands of them — go past RTK Query's reducer and middleware and the auth
 * slice's reducer, none of which does anything with them (they react to the api's own actions, `@@redux/…`,
 * focus/online and rehydration, and `auth/…`). `tests/unit/socketActionBypass.test.ts` fails the day RTK Query's
 * reducer or middleware starts to react to such an action. One of the store's hot-path shortcuts, all listed with
 * what guards and measures each in bench/README.md, "What the store does for these figures".
 */
const isSocketAction = (action: unknown): boolean => {
  const type = (action as { type?: unknown } | null)?.type
  return typeof type === 'string' && type.startsWith(PREFIX)
}

/**
 * `reducer`, not run for `socket/…` actions once it has a state (which it keeps).
 *
 * @example combineReducers({ [api.reducerPath]: skippingSocketActions(api.reducer) })
 */
export function skippingSocketActions<S>(reducer: Reducer<S>): Reducer<S> {
  return (state, action) => (state !== undefined && isSocketAction(action) ? state : reducer(state, action))
}

/**
 * `middleware`, passing `socket/…` actions straight to the next one.
 *
 * @example getDefaultMiddleware().concat(passingSocketActions(api.middleware))
 */
export function passingSocketActions(middleware: Middleware): Middleware {
  return (mwApi) => {
    const withMiddleware = middleware(mwApi)
    return (next) => {
      const handle = withMiddleware(next)
      return (action) => (isSocketAction(action) ? next(action) : handle(action))
    }
  }
}

/**
 * The root reducer for the store whose only slices that react to `socket/…` actions are `live` (the others return
 * their state for them: the skipped ones above). Such an action runs `live` alone and keeps the root state when none
 * of them changes, else a copy with their new states, as `combineReducers` would give; every other action goes to
 * `combined`. It spares a burst's events `combineReducers`' per-action work (bench/README.md, "What the store does for
 * these figures").
 *
 * @example socketActionsRoot(combineReducers(slices), { socket: socketReducer, presence: presenceReducer })
 */
export function socketActionsRoot<S extends object, A extends Action, P, K extends keyof S>(
  combined: Reducer<S, A, P>,
  live: { [Key in K]: Reducer<S[Key]> },
): Reducer<S, A, P> {
  const keys = Object.keys(live) as K[]
  return (state, action) => {
    if (state === undefined || !isSocketAction(action)) return combined(state, action)
    // Past its first action the root state is whole (`P` types only what may be preloaded).
    const whole = state as S
    let next: S | null = null
    for (const key of keys) {
      const before = whole[key]
      const after = live[key](before, action)
      if (after !== before) (next ??= { ...whole })[key] = after
    }
    return next ?? whole
  }
}
