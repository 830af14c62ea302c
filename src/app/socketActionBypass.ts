import type { Middleware, Reducer } from '@reduxjs/toolkit'
import { PREFIX } from '../realtime'

/**
 * The one shortcut the store takes, kept because it is measured to matter (bench/README.md, "Shortcuts"): the realtime
 * layer's own `socket/…` actions — a burst of server events is thousands of them — go past RTK Query's reducer and
 * middleware and the auth slice's reducer, none of which does anything with them (they react to the api's own
 * actions, `@@redux/…`, focus/online and rehydration, and `auth/…`). `tests/unit/socketActionBypass.test.ts` fails
 * the day RTK Query's reducer or middleware starts to react to such an action.
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
