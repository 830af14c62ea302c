import type { Middleware, ThunkDispatch, UnknownAction } from '@reduxjs/toolkit'
import { shutdown } from '../realtime/actions'
import type { StorageLike } from '../realtime/outboxStorage'
import { clearLoginEmail, clearRefreshToken, loadRefreshToken } from './credentials'
import { type AnswerMeta, api, refreshSession } from './index'
import { refreshDueAt, tokenLifetime, tokenSessionId } from './jwt'
import { learnSkew, type ServerClock, serverNow } from './serverClock'
import { loggedOut, refreshFailed } from './session'

interface AuthRootState {
  auth: { token: string | null; user: { id: string } | null }
}

/** The timer functions the middleware uses; default the global ones (read at each call, so fake timers apply). */
export interface SessionTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const globalTimers: SessionTimers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms)
    // In Node (tests, SSR) a pending refresh must not keep the process alive; browsers return a number.
    ;(handle as { unref?: () => void }).unref?.()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

export interface SessionMiddlewareOptions {
  /** The API's origin (`POST ${apiUrl}/api/auth/logout`). */
  apiUrl: string
  fetchFn?: typeof fetch
  /** Where the refresh token is kept. */
  storage: StorageLike
  /** The clock, in ms. Default `Date.now`. */
  now?: () => number
  timers?: SessionTimers
  /** Where the offset from the server's clock is kept for the api's `refreshSession` too. Default: a clock of its own. */
  serverClock?: ServerClock
}

/**
 * The server answers a rotated refresh token with the same pair for 30 s, then takes it for a stolen one and ends the
 * session (the contract's Sessions). A refresh that got no answer may have been rotated there, its answer lost on the
 * way back (the server killed after its commit, the network gone): it must go again within those 30 s.
 */
const REUSE_WINDOW_MS = 30_000
/** How often a refresh that got no answer goes again within the reuse window: one small request. */
const IN_WINDOW_RETRY_MS = 2_500
/** How far past its time a timer that has not fired is taken to have stood still (a sleep), not merely to run late. */
const LATE_MS = 1_000

/**
 * Waits after a refresh that got no answer (offline): at most 2.5 s while the reuse window since the first of them
 * lasts, so that a server or a network back within it gets the retry in time (a doubling wait would put it past the
 * window: back 15 s after a lost answer, it would be tried again only at 30 s, refused as stolen, the user logged
 * out); after the window, the doubling wait, at most a minute.
 *
 * @example retryDelay(3, 10_000) // 2_500; retryDelay(12, 29_000) // 60_000
 */
const retryDelay = (failures: number, unansweredForMs: number) => {
  const backoff = Math.min(60_000, 1_000 * 2 ** failures)
  return unansweredForMs + IN_WINDOW_RETRY_MS < REUSE_WINDOW_MS ? Math.min(backoff, IN_WINDOW_RETRY_MS) : backoff
}

/**
 * The session's life in the browser, next to the api: it refreshes the access token before it expires (at 80% of its
 * life, read from the token), through the api's `refreshSession` (single flight, one tab at a time); and at
 * `auth/loggedOut` it forgets the stored refresh token and tells the server (`POST /api/auth/logout`, best effort: a
 * logout offline still clears the browser).
 *
 * @example configureStore({ …, middleware: (gDM) => gDM().concat(createSessionMiddleware({ apiUrl, storage })) })
 */
export function createSessionMiddleware(options: SessionMiddlewareOptions): Middleware<object, AuthRootState> {
  const now = options.now ?? Date.now
  const timers = options.timers ?? globalTimers
  return (mwApi) => {
    const dispatch = mwApi.dispatch as ThunkDispatch<unknown, unknown, UnknownAction>
    let timer: unknown = null
    /** When the timer should fire, on `now`'s clock. */
    let firesAt = 0
    /** The token the timer is for; a new one (login, refresh, another tab's) reschedules. */
    let scheduledFor: string | null = null
    let failures = 0
    /** When the first refresh that got no answer for the scheduled token ended (`now`), or null. */
    let unansweredSince: number | null = null
    /** After `socket/shutdown` (the page goes away, a test ends) nothing is scheduled any more. */
    let stopped = false
    const clock: ServerClock = options.serverClock ?? { skewMs: 0 }

    function cancel() {
      if (timer !== null) timers.clearTimeout(timer)
      timer = null
      scheduledFor = null
    }

    function schedule(token: string, delayMs: number) {
      if (timer !== null) timers.clearTimeout(timer)
      scheduledFor = token
      firesAt = now() + delayMs
      timer = timers.setTimeout(() => {
        timer = null
        refresh(token)
      }, delayMs)
    }

    function refresh(token: string) {
      void dispatch(refreshSession()).then((outcome) => {
        // Still the same token: the refresh got no answer (or adopted nothing); try again later.
        if (!stopped && outcome !== 'refused' && mwApi.getState().auth.token === token) {
          unansweredSince ??= now()
          schedule(token, retryDelay(++failures, now() - unansweredSince))
        }
      })
    }

    /**
     * The timer stands still while the machine sleeps (and runs late in a throttled tab), the clock does not: woken
     * past the token's expiry, the first handshake or request would go with the expired token and be refused before
     * anything refreshed it. Any action after the wake (the network back, the tab shown, a request) that finds the
     * timer overdue on the clock refreshes now instead.
     */
    function catchUp() {
      if (timer === null || scheduledFor === null || now() - firesAt < LATE_MS) return
      timers.clearTimeout(timer)
      timer = null
      refresh(scheduledFor)
    }

    function follow(token: string | null) {
      if (token === scheduledFor) return
      if (!token) return cancel()
      failures = 0
      unansweredSince = null
      const due = refreshDueAt(token)
      if (due === null) {
        // Nothing to schedule for a token without a lifetime; remembered, so later actions do not decode it again.
        cancel()
        scheduledFor = token
        return
      }
      schedule(token, Math.max(0, due - serverNow(clock, now())))
    }

    function logout(prev: AuthRootState['auth']) {
      const userId = prev.user?.id ?? null
      // The session this tab leaves: a tab that hears another tab's logout late may find a newer session of the same
      // user stored (a login there since), whose refresh token must neither go nor be sent to be revoked.
      const sessionId = tokenSessionId(prev.token)
      const refreshToken = loadRefreshToken(options.storage, userId, sessionId)
      clearRefreshToken(options.storage, userId, sessionId)
      if (!prev.token && !refreshToken) return
      const send = options.fetchFn ?? (typeof fetch === 'function' ? fetch : null)
      if (!send) return
      send(`${options.apiUrl}/api/auth/logout`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(prev.token ? { authorization: `Bearer ${prev.token}` } : {}),
        },
        body: JSON.stringify(refreshToken ? { refreshToken } : {}),
        keepalive: true,
      }).catch(() => {
        // Best effort: offline, the session ends at its idle limit; this browser has forgotten it already.
      })
    }

    return (next) => (action) => {
      const prev = mwApi.getState().auth
      const result = next(action)
      if (stopped) return result
      // The answer of a login or a refresh: its token is fresh (`auth/loggedIn` comes after this, `auth/tokenRefreshed`
      // before it, already scheduled with what was known then: scheduled again).
      // A thunk's fulfilled action (RTK documents `meta.requestStatus` on them) before RTK's matchers, which allocate at
      // every call: a burst's thousands of actions never reach them.
      if (
        (action as { meta?: { requestStatus?: unknown } }).meta?.requestStatus === 'fulfilled' &&
        (api.endpoints.login.matchFulfilled(action) || api.endpoints.refreshToken.matchFulfilled(action))
      ) {
        const issuedAt = tokenLifetime(action.payload.token)?.issuedAt
        // A refresh answered again from the server's reuse window (two tabs, a retry after a lost answer) brings the
        // token of the first rotation, up to 30 s old: its `Age` says how old, or the server's clock would be taken
        // that far behind and the next refresh come that late (past the end of a short token).
        const ageMs = (action.meta.baseQueryMeta as AnswerMeta | undefined)?.ageMs ?? 0
        if (issuedAt !== undefined) learnSkew(clock, issuedAt + ageMs, now(), true)
        if (scheduledFor === action.payload.token) {
          cancel()
          follow(action.payload.token)
        }
        return result
      }
      if (shutdown.match(action)) {
        stopped = true
        cancel()
      } else if (loggedOut.match(action)) {
        cancel()
        logout(prev)
        // The user's own "Log out" (the only one that drops the outbox; one without meta counts as it there too): on a
        // shared computer, the next person's login page offers nothing of theirs. A session that ended by itself keeps
        // the email for "Log in again".
        if ((action.meta as { keepOutbox?: unknown } | undefined)?.keepOutbox !== true) clearLoginEmail(options.storage)
      } else if (refreshFailed.match(action)) {
        // This token's session cannot be renewed: nothing more to schedule for it (the next login brings a new one).
        const token = mwApi.getState().auth.token
        cancel()
        scheduledFor = token
      } else {
        follow(mwApi.getState().auth.token)
        catchUp()
      }
      return result
    }
  }
}
