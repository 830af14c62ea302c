import { api } from './index'

// The React hooks of the api's endpoints, for the pages. Apart from the api itself, so a bundle that imports the api
// without the hooks (the realtime layer) leaves them out: reading them off `api` is not something a bundler may drop.

/** @example const { data: lessons } = useGetLessonsQuery() */
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
