import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit'
import { createApi, fetchBaseQuery, type BaseQueryFn, type FetchArgs, type FetchBaseQueryError } from '@reduxjs/toolkit/query/react'
import type { ContactRequest, ContactRequestStatus, Conversation, Id, Lesson, LessonStatus, Message, User } from '../contract'
import { loggedIn, sessionRefreshFailed, tokenRefreshed } from './session'
import { LIST, TAG_TYPES } from './tags'
import type { ApiExtra, Session, ThreadMessage } from './types'

export * from './tags'
export * from './session'
export type * from './types'

interface AuthState {
  auth: { token: string | null }
}

/**
 * The store's `apiUrl` comes through the thunk extra argument, so one `api` serves every store (each test, each tab).
 * The token is read at request time, so a refreshed token is used by the next request.
 */
const rawBaseQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = (args, api, extraOptions) => {
  const { apiUrl, fetchFn } = (api.extra ?? { apiUrl: '' }) as ApiExtra
  return fetchBaseQuery({
    baseUrl: `${apiUrl}/api`,
    ...(fetchFn ? { fetchFn } : {}),
    prepareHeaders: (headers, { getState }) => {
      const token = (getState() as AuthState).auth?.token
      if (token) headers.set('authorization', `Bearer ${token}`)
      return headers
    },
  })(args, api, extraOptions)
}

const urlOf = (args: string | FetchArgs) => (typeof args === 'string' ? args : args.url)
const tokenOf = (getState: () => unknown) => (getState() as Partial<AuthState>).auth?.token ?? null

/**
 * RTK Query's "automatic re-authorization by extending fetchBaseQuery": a 401 on any request but the auth ones gets
 * one token refresh — shared with every other caller of the same store at that moment (single flight) — and is
 * retried once with the new token. When another caller already refreshed while this request was out, it is only
 * retried. A refused refresh dispatches `auth/refreshFailed` (the realtime layer shows `unauthorized`).
 */
const baseQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (args, api, extraOptions) => {
  const tokenBefore = tokenOf(api.getState)
  let result = await rawBaseQuery(args, api, extraOptions)
  if (result.error?.status !== 401 || urlOf(args).startsWith('/auth/') || !tokenBefore) return result
  const refreshed =
    tokenOf(api.getState) !== tokenBefore ||
    (await (api.dispatch as unknown as (t: ReturnType<typeof refreshSession>) => Promise<RefreshOutcome>)(refreshSession())) === 'refreshed'
  if (refreshed && tokenOf(api.getState)) result = await rawBaseQuery(args, api, extraOptions)
  return result
}

/** What a token refresh came to: a new token, a refusal (log in again), or no answer (try later). */
export type RefreshOutcome = 'refreshed' | 'refused' | 'unavailable'

/** One refresh in flight per store (keyed by the store's `getState`, which every middleware and thunk shares). */
const refreshesInFlight = new WeakMap<object, Promise<RefreshOutcome>>()

/**
 * Refreshes the token once for all concurrent callers of a store (the socket's refused handshake, any number of
 * 401s): `POST /api/auth/refresh` through the `refreshToken` mutation, which dispatches `auth/tokenRefreshed`.
 * A 4xx answer (but 408/429) is a refusal and dispatches `auth/refreshFailed`; anything else is `unavailable`.
 *
 * @example const outcome = await store.dispatch(refreshSession()) // 'refreshed' | 'refused' | 'unavailable'
 */
export function refreshSession(): ThunkAction<Promise<RefreshOutcome>, unknown, unknown, UnknownAction> {
  return (dispatch, getState) => {
    const key = getState as unknown as object
    const running = refreshesInFlight.get(key)
    if (running) return running
    const thunk = api.endpoints.refreshToken.initiate(undefined, { track: false })
    const refresh = (async (): Promise<RefreshOutcome> => {
      if (!tokenOf(getState)) return 'refused'
      const result = await (dispatch as unknown as (t: typeof thunk) => ReturnType<typeof thunk>)(thunk)
      if ('data' in result && result.data) return 'refreshed'
      const status = 'error' in result ? (result.error as { status?: unknown }).status : undefined
      if (typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429) {
        dispatch(sessionRefreshFailed())
        return 'refused'
      }
      return 'unavailable'
    })()
      .catch((): RefreshOutcome => 'unavailable')
      .finally(() => refreshesInFlight.delete(key))
    refreshesInFlight.set(key, refresh)
    return refresh
  }
}

export const api = createApi({
  reducerPath: 'api',
  baseQuery,
  tagTypes: TAG_TYPES,
  endpoints: (build) => ({
    login: build.mutation<Session, { email: string; password: string }>({
      query: (body) => ({ url: '/auth/login', method: 'POST', body }),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        const { data } = await queryFulfilled.catch(() => ({ data: null }))
        if (data) dispatch(loggedIn(data))
      },
    }),
    refreshToken: build.mutation<Session, void>({
      query: () => ({ url: '/auth/refresh', method: 'POST' }),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        const { data } = await queryFulfilled.catch(() => ({ data: null }))
        if (data) dispatch(tokenRefreshed(data))
      },
    }),
    getMe: build.query<User, void>({ query: () => '/me' }),
    getUsers: build.query<User[], void>({ query: () => '/users' }),
    getConversations: build.query<Conversation[], void>({
      query: () => '/conversations',
      providesTags: [{ type: 'Conversation', id: LIST }],
    }),
    createConversation: build.mutation<Conversation, { participantId: Id }>({
      query: (body) => ({ url: '/conversations', method: 'POST', body }),
      invalidatesTags: [{ type: 'Conversation', id: LIST }],
    }),
    getMessages: build.query<ThreadMessage[], Id>({
      query: (conversationId) => `/conversations/${encodeURIComponent(conversationId)}/messages`,
      providesTags: (_result, _error, conversationId) => [{ type: 'Message', id: conversationId }],
    }),
    /** Older messages, for "load earlier"; the thread page merges them into `getMessages`. */
    getMessagesBefore: build.query<Message[], { conversationId: Id; before: number; limit?: number }>({
      query: ({ conversationId, before, limit = 50 }) => ({
        url: `/conversations/${encodeURIComponent(conversationId)}/messages`,
        params: { before, limit },
      }),
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
      providesTags: [{ type: 'Lesson', id: LIST }],
    }),
    createLesson: build.mutation<Lesson, { tutorId: Id; subject: string; startsAt: string; durationMinutes: number }>({
      query: (body) => ({ url: '/lessons', method: 'POST', body }),
    }),
    updateLessonStatus: build.mutation<Lesson, { id: Id; status: LessonStatus }>({
      query: ({ id, status }) => ({ url: `/lessons/${encodeURIComponent(id)}`, method: 'PATCH', body: { status } }),
    }),
    getContactRequests: build.query<ContactRequest[], void>({
      query: () => '/contact-requests',
      providesTags: [{ type: 'ContactRequest', id: LIST }],
    }),
    createContactRequest: build.mutation<ContactRequest, { tutorId: Id; message: string }>({
      query: (body) => ({ url: '/contact-requests', method: 'POST', body }),
    }),
    updateContactRequestStatus: build.mutation<ContactRequest, { id: Id; status: ContactRequestStatus }>({
      query: ({ id, status }) => ({ url: `/contact-requests/${encodeURIComponent(id)}`, method: 'PATCH', body: { status } }),
    }),
  }),
})

export const {
  useLoginMutation,
  useGetMeQuery,
  useGetUsersQuery,
  useGetConversationsQuery,
  useCreateConversationMutation,
  useGetMessagesQuery,
  useLazyGetMessagesBeforeQuery,
  usePostMessageMutation,
  useGetLessonsQuery,
  useCreateLessonMutation,
  useUpdateLessonStatusMutation,
  useGetContactRequestsQuery,
  useCreateContactRequestMutation,
  useUpdateContactRequestStatusMutation,
} = api
