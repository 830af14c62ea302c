import { createApi, fetchBaseQuery, type BaseQueryFn, type FetchArgs, type FetchBaseQueryError } from '@reduxjs/toolkit/query/react'
import type { ContactRequest, ContactRequestStatus, Conversation, Id, Lesson, LessonStatus, Message, User } from '../contract'
import { loggedIn, tokenRefreshed } from './session'
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
  const { apiUrl } = (api.extra ?? { apiUrl: '' }) as ApiExtra
  return fetchBaseQuery({
    baseUrl: `${apiUrl}/api`,
    prepareHeaders: (headers, { getState }) => {
      const token = (getState() as AuthState).auth?.token
      if (token) headers.set('authorization', `Bearer ${token}`)
      return headers
    },
  })(args, api, extraOptions)
}

export const api = createApi({
  reducerPath: 'api',
  baseQuery: rawBaseQuery,
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
