import { learnSkew, serverNow } from './serverClock'
import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit'
import {
  createApi,
  fetchBaseQuery,
  type BaseQueryFn,
  type FetchArgs,
  type FetchBaseQueryError,
  type QueryReturnValue,
} from '@reduxjs/toolkit/query/react'
import {
  array,
  contactRequestSchema,
  conversationSchema,
  describeIssues,
  errorBodySchema,
  HTTP_STATUS,
  lessonSchema,
  messageSchema,
  parse,
  type Check,
  userSchema,
  type ContactRequest,
  type ContactRequestStatus,
  type Conversation,
  type Id,
  type Lesson,
  type LessonStatus,
  type Message,
  type User,
} from '../contract'
import type { DrainLock } from '../realtime/drainLock'
import { loadAuth, loadRefreshToken, saveLoginEmail, saveRefreshToken } from './credentials'
import { sameSession, tokenLifetime, tokenSessionId } from './jwt'
import { loggedIn, refreshFailed, tokenRefreshed } from './session'
import { LIST, TAG_TYPES } from './tags'
import { answeredStatus, isRefusalStatus, WAIT_FOR_EVERY_REQUEST } from './answeredStatus'
import type { ApiExtra, Session, ThreadMessage } from './types'

export * from './tags'
export * from './answeredStatus'
export * from './session'
export * from './credentials'
export * from './jwt'
export * from './serverClock'
export type * from './types'

interface AuthState {
  auth: { token: string | null; user?: { id: string } | null }
}

/**
 * The store's `apiUrl` comes through the thunk extra argument, so one `api` serves every store (each test, each tab).
 * The token is read at request time, so a refreshed token is used by the next request.
 */
/** The default of `ApiExtra.requestTimeoutMs`: a generous bound, far above any answer the server gives when it works. */
export const REQUEST_TIMEOUT_MS = 30_000

const rawBaseQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (args, api, extraOptions) => {
  const extra = extraOf(api.extra)
  const { apiUrl, fetchFn, requestTimeoutMs = REQUEST_TIMEOUT_MS } = extra
  const result = await fetchBaseQuery({
    baseUrl: `${apiUrl}/api`,
    timeout: requestTimeoutMs,
    ...(fetchFn ? { fetchFn } : {}),
    prepareHeaders: (headers, { getState }) => {
      const token = (getState() as AuthState).auth?.token
      if (token) headers.set('authorization', `Bearer ${token}`)
      return headers
    },
  })(args, api, extraOptions)
  // A reloaded page's offset from the server's clock, before its first refresh tells it (the API's answers are
  // `no-store`: their `Date` is the moment they were made).
  const date = httpDate(result.meta?.response?.headers.get('date')?.trim() ?? '')
  if (date !== null && extra.serverClock) learnSkew(extra.serverClock, date, (extra.now ?? Date.now)(), false)
  return result
}

/**
 * The server's now as this store can tell it (its clock's offset, `ServerClock`): what a page judges "already passed"
 * by, as the server will.
 *
 * @example const now = dispatch(serverTime())
 */
export const serverTime =
  (): ThunkAction<number, unknown, unknown, UnknownAction> =>
  (_dispatch, _getState, extra): number =>
    serverNow(extraOf(extra).serverClock, (extraOf(extra).now ?? Date.now)())

/**
 * How long a token refresh waits for its answer: well inside the server's 30 s reuse window, so that the refresh made
 * again after a lost answer (the session middleware's first retry comes 2 s later) presents the rotated token in time.
 */
export const REFRESH_TIMEOUT_MS = 10_000

type RawAnswer = Awaited<ReturnType<typeof rawBaseQuery>>

const urlOf = (args: string | FetchArgs) => (typeof args === 'string' ? args : args.url)
const tokenOf = (getState: () => unknown) => (getState() as Partial<AuthState>).auth?.token ?? null
const userIdOf = (getState: () => unknown) => (getState() as Partial<AuthState>).auth?.user?.id ?? null
const extraOf = (extra: unknown): ApiExtra => (extra ?? { apiUrl: '' }) as ApiExtra

/**
 * RTK Query's "automatic re-authorization by extending fetchBaseQuery": a 401 on any request but the auth ones gets
 * one token refresh — shared with every other caller of the same store at that moment (single flight) — and is
 * retried once with the new token. When another caller already refreshed while this request was out, it is only
 * retried. Never once the store's user is no longer the one it was made for (another tab's login): it fails as it is.
 * A refused refresh dispatches `auth/refreshFailed` (the realtime layer shows `unauthorized`).
 */
const baseQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError, AnswerCheck, AnswerMeta> = async (
  args,
  api,
  extraOptions,
) => {
  const result = await readAgainWhenRateLimited(args, api, extraOptions)
  return checkedAnswer(waitInContractWords(result, extraOf(api.extra)), extraOptions?.check)
}

/** How many times a read the server refused for its rate (429) is made again, each after the wait it asked for. */
export const READ_RETRIES_WHEN_RATE_LIMITED = 3
/** A longer wait than this is not waited for: the read fails at once (the page offers to try again). */
export const MAX_RATE_LIMIT_WAIT_MS = 10_000

/**
 * A read (GET) the server refused for its rate is made again after the wait it asked for (`retryAfterMs`, else
 * `Retry-After`), a few times: a burst of reads past the budget (a reconnect reading every list at once) then fills the
 * page instead of showing an error. Never a write (a login or a send: the caller decides), and never after the read was
 * given up (`signal`): a logout or another user's login resets the api state, which gives up every read in flight;
 * nor once the store is disposed (`stopped`): nobody is left to read it.
 *
 * The wait asked for is the time until the budget has one read again, the same for every read refused at that moment:
 * a page's six reads would all come back for that one and five be refused again, each time. So each retry waits that
 * long plus a random share of `RATE_LIMIT_SPREAD_MS`, doubled at each retry: the reads come back one after another.
 */
const readAgainWhenRateLimited: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (
  args,
  api,
  extraOptions,
) => {
  const isRead = typeof args === 'string' || (args.method ?? 'GET').toUpperCase() === 'GET'
  let result = await authorizedQuery(args, api, extraOptions)
  const rateLimited = () => answeredStatus(result.error) === HTTP_STATUS.RATE_LIMITED
  for (let retry = 0; isRead && retry < READ_RETRIES_WHEN_RATE_LIMITED && rateLimited(); retry++) {
    const waitMs = rateLimitWaitOf(result, extraOf(api.extra))
    const givenUp = [api.signal, extraOf(api.extra).stopped]
    if (waitMs > MAX_RATE_LIMIT_WAIT_MS || !(await pause(spreadWait(waitMs, retry), givenUp))) break
    result = await authorizedQuery(args, api, extraOptions)
  }
  return result
}

/**
 * Over how long the first retries of reads refused together are spread (then twice, four times that): the asked wait
 * says when the budget has one read again, not how many; 20 a second over 400 ms is room for a page's reads.
 */
export const RATE_LIMIT_SPREAD_MS = 400

/** The wait before retry `retry` (0, 1, …) of a read asked to wait `waitMs`: at least that, at most the longest waited. */
function spreadWait(waitMs: number, retry: number): number {
  return Math.min(MAX_RATE_LIMIT_WAIT_MS, waitMs + Math.random() * RATE_LIMIT_SPREAD_MS * 2 ** retry)
}

/**
 * The wait a 429 asks for, in ms: the body's `retryAfterMs` (the contract's), else `Retry-After` (`retryAfterOf`), else
 * 1 s.
 */
function rateLimitWaitOf(result: RawAnswer, extra: ApiExtra): number {
  const body = parse(errorBodySchema, result.error?.data)
  if (body.ok && body.value.error.retryAfterMs !== undefined) return body.value.error.retryAfterMs
  return retryAfterOf(result, extra) ?? 1000
}

/**
 * An answer's `Retry-After` in ms (seconds, or an HTTP date as a proxy may send), or null without one. A date is the
 * clock's of whoever wrote it: it is read against the answer's own `Date` (the same clock), else against the server's
 * now as this browser can tell it, never this browser's clock alone (a minute off, and every such wait would be a
 * minute off). Anything else (two values joined, `-1`) is 1 s: `Date.parse` makes a date of nearly anything (`"5, 6"`
 * is 6 May 2001), so only what has an HTTP date's time of day is one.
 */
function retryAfterOf(result: RawAnswer, extra: ApiExtra): number | null {
  const headers = (result.meta as { response?: Response } | undefined)?.response?.headers
  const header = headers?.get('retry-after')?.trim()
  if (!header) return null
  if (/^\d+$/.test(header)) return Number(header) * 1000
  const at = httpDate(header)
  if (at === null) return 1000
  const now = httpDate(headers?.get('date')?.trim() ?? '') ?? serverNow(extra.serverClock, (extra.now ?? Date.now)())
  return Math.max(0, at - now)
}

/**
 * A 429 told in the contract's words with the wait it asked for: a proxy's (no contract body, or a page that is no
 * JSON), or one whose body names no `retryAfterMs`, gets the wait its `Retry-After` gives. So does a 503 with a
 * `Retry-After` (a gateway's, a server in maintenance): how long the service expects to be unavailable (RFC 9110
 * §10.2.3). Read here, where the answer's headers and the server's clock are (the actions carry neither), so that every
 * caller reads one body: a send's outbox and a failed read's retry would otherwise come back after their own backoff,
 * sooner than asked. That wait is every request's (`WAIT_FOR_EVERY_REQUEST`): the outbox would otherwise space the
 * sends it refused together one such wait apart, as it does the server's (one send's), and the 30th of 30 waited 30
 * times what was asked.
 */
function waitInContractWords(result: RawAnswer, extra: ApiExtra): RawAnswer {
  const status = answeredStatus(result.error)
  if (status !== HTTP_STATUS.RATE_LIMITED && status !== SERVICE_UNAVAILABLE) return result
  const body = parse(errorBodySchema, result.error?.data)
  if (body.ok && body.value.error.retryAfterMs !== undefined) return result
  const retryAfterMs = status === SERVICE_UNAVAILABLE ? retryAfterOf(result, extra) : rateLimitWaitOf(result, extra)
  if (retryAfterMs === null) return result
  const error = body.ok
    ? body.value.error
    : {
        code: status === SERVICE_UNAVAILABLE ? ('INTERNAL' as const) : ('RATE_LIMITED' as const),
        message: `HTTP ${status}`,
      }
  const data = { error: { ...error, retryAfterMs }, [WAIT_FOR_EVERY_REQUEST]: true }
  return { error: { status, data }, meta: result.meta }
}

const SERVICE_UNAVAILABLE = 503

/** An HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms: each has `hh:mm:ss`) in ms, or null. */
function httpDate(value: string): number | null {
  if (!/\b\d{2}:\d{2}:\d{2}\b/.test(value)) return null
  // asctime (`Sun Nov  6 08:49:37 1994`) names no zone, and `Date.parse` would read it in the browser's: it is GMT.
  const at = Date.parse(ASCTIME.test(value) ? `${value} GMT` : value)
  return Number.isFinite(at) ? at : null
}

const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/** Waits `ms`; false when one of `signals` gave the read up first. */
function pause(ms: number, signals: readonly (AbortSignal | undefined)[]): Promise<boolean> {
  const watched = signals.filter((s): s is AbortSignal => s !== undefined)
  if (watched.some((s) => s.aborted)) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (waited: boolean) => {
      clearTimeout(timer)
      for (const s of watched) s.removeEventListener('abort', onAbort)
      resolve(waited)
    }
    const onAbort = () => done(false)
    const timer = setTimeout(() => done(true), ms)
    for (const s of watched) s.addEventListener('abort', onAbort)
  })
}

/** What an endpoint's answer must be (`extraOptions`): the contract's check of it. */
interface AnswerCheck {
  check?: Check<unknown>
}

/** What an answer says of itself beside its body, carried by its actions (`meta.baseQueryMeta`): plain data only. */
export interface AnswerMeta {
  /**
   * How old it already was when sent (`Age`), in ms: a refresh answered again from the server's reuse window is the pair
   * made at the first rotation, whose token's `iat` is that long before the server's now.
   */
  ageMs?: number
}

type CheckedAnswer = QueryReturnValue<unknown, FetchBaseQueryError, AnswerMeta>

/** The answer's `Age` (whole seconds; RFC 9111), as `AnswerMeta`. */
function metaOf(result: RawAnswer): { meta?: AnswerMeta } {
  const age = (result.meta as { response?: Response } | undefined)?.response?.headers.get('age')?.trim()
  return age && /^\d+$/.test(age) ? { meta: { ageMs: Number(age) * 1000 } } : {}
}

/**
 * The answer as the contract says it is, or an error the pages show as the server's (`INTERNAL`): data of another
 * shape never reaches the cache, where a page would fail on it (the socket's payloads are checked the same way).
 */
function checkedAnswer(result: RawAnswer, check: Check<unknown> | undefined): CheckedAnswer {
  // Without fetchBaseQuery's `meta` (its Request, with the bearer token, and its Response): RTK Query puts it in every
  // action of the query, and nothing that is not plain data goes into an action.
  if (result.error) return { error: result.error }
  if (!check) return { data: result.data, ...metaOf(result) }
  const parsed = parse(check, result.data)
  if (parsed.ok) return { data: parsed.value, ...metaOf(result) }
  const message = `the answer does not match the contract: ${describeIssues(parsed.issues)}`
  return { error: { status: 'CUSTOM_ERROR', error: message, data: { error: { code: 'INTERNAL', message } } } }
}

const authorizedQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (
  args,
  api,
  extraOptions,
) => {
  const tokenBefore = tokenOf(api.getState)
  const userBefore = userIdOf(api.getState)
  const sameUser = () => userIdOf(api.getState) === userBefore
  const result = await rawBaseQuery(args, api, extraOptions)
  if (result.error?.status !== 401 || urlOf(args).startsWith('/auth/') || !tokenBefore || !sameUser()) return result
  const outcome: RefreshOutcome =
    tokenOf(api.getState) !== tokenBefore
      ? 'refreshed'
      : await (api.dispatch as unknown as (t: ReturnType<typeof refreshSession>) => Promise<RefreshOutcome>)(
          refreshSession(),
        )
  if (outcome === 'refreshed' && tokenOf(api.getState) && sameUser()) return rawBaseQuery(args, api, extraOptions)
  // No answer to the refresh is no refusal: the session stays, and the request failed for want of the server (said
  // as such, and made again as such), not with its token's 401 ("Your session has ended").
  if (outcome === 'unavailable' && tokenOf(api.getState) === tokenBefore && sameUser()) return refreshUnanswered()
  return result
}

const refreshUnanswered = (): { error: FetchBaseQueryError } => ({
  error: { status: 'FETCH_ERROR', error: 'the session could not be renewed: the server did not answer' },
})

/** What a token refresh came to: a new token, a refusal (log in again), or no answer (try later). */
export type RefreshOutcome = 'refreshed' | 'refused' | 'unavailable'

/** One refresh in flight per store (keyed by the store's `getState`, which every middleware and thunk shares). */
const refreshesInFlight = new WeakMap<object, Promise<RefreshOutcome>>()
/**
 * The token whose refresh the server refused, per store: the session is over (the header's "Log in again"), and asking
 * again with the refresh token it refused would only spend the address's refresh budget, shared with every browser
 * behind it; once that is spent the answer is a 429, which would say "Could not reach the server" of every action.
 */
const refusedTokens = new WeakMap<object, string>()

/** A token with less than this left is not worth adopting from another tab: refresh it instead. */
const ADOPT_MARGIN_MS = 5_000
/**
 * How long a tab waits for another one's refresh before going ahead itself: longer than the holder's refresh may take
 * (its request gives up after `REFRESH_TIMEOUT_MS`, and may go out a while after it took the lock: a tab busy after a
 * wake), so that it never goes ahead while the holder's answer may still land. It would present the refresh token that
 * request rotated: within the server's 30 s reuse window the same pair, but after a sleep the end of the session (theft).
 */
export const REFRESH_LOCK_WAIT_MS = REFRESH_TIMEOUT_MS + 5_000

/**
 * Holds `name` of `lock` (or gives up waiting after `REFRESH_LOCK_WAIT_MS`); resolves with its release, or with null
 * when `stopped` (the store disposed) comes first.
 */
function acquire(lock: DrainLock | undefined, name: string, stopped?: AbortSignal): Promise<(() => void) | null> {
  if (stopped?.aborted) return Promise.resolve(null)
  if (!lock) return Promise.resolve(() => {})
  return new Promise((resolve) => {
    let settled = false
    const settle = (release: (() => void) | null) => {
      settled = true
      clearTimeout(timer)
      stopped?.removeEventListener('abort', onStopped)
      resolve(release)
    }
    const onStopped = () => {
      if (settled) return
      giveUp()
      settle(null)
    }
    const timer = setTimeout(() => {
      if (settled) return
      giveUp()
      settle(() => {})
    }, REFRESH_LOCK_WAIT_MS)
    const giveUp = lock.request(name, (release) => {
      if (settled) return release()
      settle(release)
    })
    if (!settled) stopped?.addEventListener('abort', onStopped)
  })
}

/**
 * Refreshes the token once for all concurrent callers of a store (the socket's refused handshake or kick, the
 * scheduled refresh, any number of 401s), and once for all tabs of the browser: under a lock per user it re-reads
 * storage first, and a fresh token another tab saved meanwhile is adopted (`auth/tokenRefreshed`) instead of rotating
 * the shared refresh token again. Otherwise `POST /api/auth/refresh` through the `refreshToken` mutation, which
 * dispatches `auth/tokenRefreshed`. A 4xx answer (but 408/429) is a refusal and dispatches `auth/refreshFailed`;
 * anything else is `unavailable`.
 *
 * @example const outcome = await store.dispatch(refreshSession()) // 'refreshed' | 'refused' | 'unavailable'
 */
export function refreshSession(): ThunkAction<Promise<RefreshOutcome>, unknown, unknown, UnknownAction> {
  return (dispatch, getState, extra) => {
    const key = getState as unknown as object
    const running = refreshesInFlight.get(key)
    if (running) return running
    const { storage, refreshLock, serverClock, stopped, now = Date.now } = extraOf(extra)
    const refresh = (async (): Promise<RefreshOutcome> => {
      const tokenBefore = tokenOf(getState)
      const userId = userIdOf(getState)
      if (!tokenBefore || !userId) return 'refused'
      const release = await acquire(refreshLock, `talemy.refresh.${userId}`, stopped)
      // Disposed while it waited (another tab was refreshing): nobody is left to use a token, and a rotation from here
      // would still change the browser's one refresh token.
      if (!release) return 'unavailable'
      try {
        if (userIdOf(getState) !== userId) return 'refused'
        const stored = loadAuth(storage)
        const current = tokenOf(getState)
        const fresh = (token: string | null | undefined) =>
          (tokenLifetime(token)?.expiresAt ?? 0) - serverNow(serverClock, now()) > ADOPT_MARGIN_MS
        // Of this session only: another session's token (the user logged out and in again in another tab, which this tab
        // has not heard yet) is followed as a login when this tab hears of it, after that logout, which would end it.
        if (
          stored?.user.id === userId &&
          stored.token !== tokenBefore &&
          sameSession(stored.token, tokenBefore) &&
          fresh(stored.token)
        ) {
          // Another tab refreshed while this one waited: its token is ours too (one session per browser).
          if (stored.token !== current) dispatch(tokenRefreshed({ token: stored.token }))
          return 'refreshed'
        }
        if (current && current !== tokenBefore && fresh(current)) return 'refreshed'
        // Only once storage was read for another tab's token: the same user's login there brings this tab back.
        if (current && refusedTokens.get(key) === current) return 'refused'
        const thunk = api.endpoints.refreshToken.initiate(undefined, { track: false })
        const asked = tokenOf(getState)
        const result = await (dispatch as unknown as (t: typeof thunk) => ReturnType<typeof thunk>)(thunk)
        if ('data' in result && result.data) return 'refreshed'
        // Answered for a session that has ended since: a login (the same user's, which keeps the store) brought a new
        // one, which this answer says nothing of; a logout left none.
        if (tokenOf(getState) !== asked) return tokenOf(getState) ? 'refreshed' : 'refused'
        const status = 'error' in result ? (result.error as { status?: unknown }).status : undefined
        if (typeof status === 'number' && isRefusalStatus(status)) {
          if (asked) refusedTokens.set(key, asked)
          dispatch(refreshFailed())
          return 'refused'
        }
        return 'unavailable'
      } finally {
        release()
      }
    })()
      .catch((): RefreshOutcome => 'unavailable')
      .finally(() => refreshesInFlight.delete(key))
    refreshesInFlight.set(key, refresh)
    return refresh
  }
}

/**
 * Storage still holds the refresh token a refresh sent (or the one it was answered with: another tab that gave up
 * waiting for the refresh lock asked with the same one, and the server answers both with the same pair). Anything
 * else there is a newer session's, written by a login in another tab.
 *
 * @example stillStored(storage, getState, 'r1', { data: { refreshToken: 'r2' } }) // storage holds r1 or r2
 */
function stillStored(
  storage: ApiExtra['storage'],
  getState: () => unknown,
  sent: string,
  answer: { data?: unknown },
): boolean {
  const stored = loadRefreshToken(storage, userIdOf(getState))
  return (
    stored === sent || (stored !== null && stored === (answer.data as { refreshToken?: unknown } | null)?.refreshToken)
  )
}

const supersededSession: FetchBaseQueryError = {
  status: 'CUSTOM_ERROR',
  error: 'the session this refresh was asked for has ended',
}

const malformedSession: FetchBaseQueryError = {
  status: 'PARSING_ERROR',
  originalStatus: 200,
  data: '',
  error: 'not a session',
}

/**
 * A login's or a refresh's answer as the session for the store (`{ token, user }`), its refresh token saved for the
 * user; or the error: the request's own, or `malformedSession`. An answer without a refresh token (a server without
 * sessions) is a session that lasts as long as its access token.
 */
function sessionFrom(
  result: { data?: unknown; error?: FetchBaseQueryError },
  storage: ApiExtra['storage'],
): { data: Session; error?: undefined } | { error: FetchBaseQueryError; data?: undefined } {
  if (result.error) return { error: result.error }
  const { token, refreshToken, user } = (result.data ?? {}) as {
    token?: unknown
    refreshToken?: unknown
    user?: unknown
  }
  const parsed = parse(userSchema, user)
  if (typeof token !== 'string' || !token || !parsed.ok) return { error: malformedSession }
  if (typeof refreshToken === 'string' && refreshToken)
    saveRefreshToken(storage, parsed.value.id, refreshToken, tokenSessionId(token))
  return { data: { token, user: parsed.value } }
}

/**
 * A thread read again (a gap, a reconnect, the stream's first sync) as its latest page, keeping the earlier messages
 * the reader loaded above it ("Load earlier") where they join that page without a hole: the thread holds the page's
 * first message (same `id`, so the same history, not a reset database's) and the run of stored messages just below it,
 * `seq` by `seq`. Anything else goes as the page says; our unconfirmed copies go too (the outbox puts them back, or
 * confirms them, once the read lands). Mutates the cached `thread` (RTK Query's `merge`, on an immer draft).
 *
 * @example keepEarlier([m1, m2, m3], [m2, m3, m4]) // the thread is now [m1, m2, m3, m4]
 */
export function keepEarlier(thread: ThreadMessage[], latest: readonly ThreadMessage[]): void {
  const stored = (m: ThreadMessage) => m.status === undefined || m.status === 'sent'
  const first = latest[0]
  const at = first === undefined ? -1 : thread.findIndex((m) => m.id === first.id && stored(m))
  if (at === -1) {
    thread.splice(0, thread.length, ...latest)
    return
  }
  let from = at
  while (from > 0 && stored(thread[from - 1]!) && thread[from - 1]!.seq === thread[from]!.seq - 1) from--
  // Kept: thread[from, at). From `at` on, the page says what is there.
  thread.splice(at)
  thread.splice(0, from)
  thread.push(...latest)
}

/**
 * A create's body, and the `Idempotency-Key` of the request it belongs to: the server makes one thing per key, so a
 * request sent again after its answer was lost is answered, not made twice (the forms keep one key per request).
 */
type Keyed<T> = T & { idempotencyKey?: string }

const keyHeader = (key: string | undefined): Pick<FetchArgs, 'headers'> =>
  key === undefined ? {} : { headers: { 'idempotency-key': key } }

export const api = createApi({
  reducerPath: 'api',
  baseQuery,
  tagTypes: TAG_TYPES,
  endpoints: (build) => ({
    // `queryFn`s, not `query`s: what a mutation returns is kept in `state.api.mutations` and carried by its fulfilled
    // action, so the refresh token is put in storage here and only `{ token, user }` goes on.
    login: build.mutation<Session, { email: string; password: string }>({
      async queryFn(body, { extra }, _extraOptions, baseQuery) {
        const { storage } = extraOf(extra)
        const session = sessionFrom(await baseQuery({ url: '/auth/login', method: 'POST', body }), storage)
        if (session.data) saveLoginEmail(storage, session.data.user.id, body.email)
        return session
      },
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        const { data } = await queryFulfilled.catch(() => ({ data: null }))
        if (data) dispatch(loggedIn(data))
      },
    }),
    refreshToken: build.mutation<Session, void>({
      async queryFn(_arg, { extra, getState, dispatch }, _extraOptions, baseQuery) {
        const { storage } = extraOf(extra)
        // This session's: another one's (a login in another tab since) is not this tab's to rotate.
        const refreshToken = loadRefreshToken(storage, userIdOf(getState), tokenSessionId(tokenOf(getState)))
        if (!refreshToken)
          return { error: { status: 401, data: { error: { code: 'UNAUTHORIZED', message: 'no refresh token' } } } }
        // The server answers a rotated refresh token with the same pair for 30 s only, then ends the session as
        // stolen: a refresh whose answer was lost is known only when it gives up, and must be made again within that.
        const timeout = Math.min(REFRESH_TIMEOUT_MS, extraOf(extra).requestTimeoutMs ?? REQUEST_TIMEOUT_MS)
        const tokenBefore = tokenOf(getState)
        const answer = await baseQuery({ url: '/auth/refresh', method: 'POST', body: { refreshToken }, timeout })
        // A login (or a logout) while it was asked ended the session it was asked for: its new pair must not replace
        // the newer session's token in the store, nor its refresh token in storage. Another tab's login writes its
        // refresh token (one key for the browser) before this tab hears of it: storage says so first.
        if (tokenOf(getState) !== tokenBefore || !stillStored(storage, getState, refreshToken, answer))
          return { error: supersededSession }
        const result = sessionFrom(answer, storage)
        // Here, not after the mutation settles: the store (and storage) hold the new token before the refresh lock is
        // let go, so the next tab to take it finds the token and adopts it.
        if (result.data) dispatch(tokenRefreshed(result.data))
        // With the answer's `Age`: the session middleware learns the server's clock from the token's `iat` and it.
        return answer.meta ? { ...result, meta: answer.meta } : result
      },
    }),
    getMe: build.query<User, void>({ query: () => '/me', extraOptions: { check: userSchema } }),
    getUsers: build.query<User[], void>({
      query: () => '/users',
      extraOptions: { check: array(userSchema) },
      // Whose presence the user may know (`online`/`lastSeenAt`, null for people who share no conversation) follows
      // the conversation list: a conversation started (here, or by the other person) is read again with it.
      providesTags: [{ type: 'Conversation', id: LIST }],
    }),
    getConversations: build.query<Conversation[], void>({
      query: () => '/conversations',
      extraOptions: { check: array(conversationSchema) },
      providesTags: [{ type: 'Conversation', id: LIST }],
    }),
    createConversation: build.mutation<Conversation, { participantId: Id }>({
      query: (body) => ({ url: '/conversations', method: 'POST', body }),
      // A write's answer is checked as a read's is: the page goes to its id (and the other writes' answers are put into
      // the cache by their pages), so one of another shape is the server's INTERNAL, said where it was asked.
      extraOptions: { check: conversationSchema },
      invalidatesTags: [{ type: 'Conversation', id: LIST }],
    }),
    getMessages: build.query<ThreadMessage[], Id>({
      query: (conversationId) => `/conversations/${encodeURIComponent(conversationId)}/messages`,
      extraOptions: { check: array(messageSchema) },
      providesTags: (_result, _error, conversationId) => [{ type: 'Message', id: conversationId }],
      // Read again (a gap, a reconnect): the latest page, with the earlier messages the reader loaded above it.
      merge: keepEarlier,
    }),
    /** Older messages, for "load earlier"; the thread page merges them into `getMessages`. */
    getMessagesBefore: build.query<Message[], { conversationId: Id; before: number; limit?: number }>({
      query: ({ conversationId, before, limit = 50 }) => ({
        url: `/conversations/${encodeURIComponent(conversationId)}/messages`,
        params: { before, limit },
      }),
      extraOptions: { check: array(messageSchema) },
    }),
    /** The HTTP send: same idempotency by `clientId` as `message:send`. */
    postMessage: build.mutation<Message, { conversationId: Id; content: string; clientId: string }>({
      query: ({ conversationId, content, clientId }) => ({
        url: `/conversations/${encodeURIComponent(conversationId)}/messages`,
        method: 'POST',
        body: { content, clientId },
      }),
    }),
    getLessons: build.query<Lesson[], void>({
      query: () => '/lessons',
      extraOptions: { check: array(lessonSchema) },
      providesTags: [{ type: 'Lesson', id: LIST }],
    }),
    createLesson: build.mutation<
      Lesson,
      Keyed<{ tutorId: Id; subject: string; startsAt: string; durationMinutes: number }>
    >({
      query: ({ idempotencyKey, ...body }) => ({ url: '/lessons', method: 'POST', body, ...keyHeader(idempotencyKey) }),
      extraOptions: { check: lessonSchema },
    }),
    updateLessonStatus: build.mutation<Lesson, { id: Id; status: LessonStatus }>({
      query: ({ id, status }) => ({ url: `/lessons/${encodeURIComponent(id)}`, method: 'PATCH', body: { status } }),
      extraOptions: { check: lessonSchema },
    }),
    getContactRequests: build.query<ContactRequest[], void>({
      query: () => '/contact-requests',
      extraOptions: { check: array(contactRequestSchema) },
      providesTags: [{ type: 'ContactRequest', id: LIST }],
    }),
    createContactRequest: build.mutation<ContactRequest, Keyed<{ tutorId: Id; message: string }>>({
      query: ({ idempotencyKey, ...body }) => ({
        url: '/contact-requests',
        method: 'POST',
        body,
        ...keyHeader(idempotencyKey),
      }),
      extraOptions: { check: contactRequestSchema },
    }),
    updateContactRequestStatus: build.mutation<ContactRequest, { id: Id; status: ContactRequestStatus }>({
      query: ({ id, status }) => ({
        url: `/contact-requests/${encodeURIComponent(id)}`,
        method: 'PATCH',
        body: { status },
      }),
      extraOptions: { check: contactRequestSchema },
    }),
  }),
})
