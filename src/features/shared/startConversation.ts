import { api } from '../../api'
import { useCreateConversationMutation } from '../../api/hooks'
import { focusElement } from '../../app/focus'
import { useAppDispatch } from '../../app/hooks'
import { currentRoute, hrefFor, navigate, type Route } from '../../app/router'
import type { Id } from '../../contract'
import { useForgetOnReconnect } from './reconnected'

/**
 * Starts the user's conversation with someone (the server's existing one, if the pair has one) and opens its thread,
 * focus in its composer; `error` is the refusal, for a `FormError` beside the button that asked. A press while one
 * runs asks for nothing more.
 *
 * @example const { start, busy, error } = useStartConversation() // <button onClick={() => start(otherId)}>…</button>
 */
export function useStartConversation() {
  const dispatch = useAppDispatch()
  const [create, { isLoading, error, reset }] = useCreateConversationMutation()
  useForgetOnReconnect(error, isLoading, reset)

  /**
   * Resolves to whether the conversation was started (false: refused, said by `error`, or already asking); `refused`
   * hears the refusal, for a form that says some of them on its field instead.
   */
  const start = async (participantId: Id, refused?: (refusal: unknown) => void): Promise<boolean> => {
    if (isLoading) return false
    const askedFrom = hrefFor(currentRoute())
    try {
      const conversation = await create({ participantId }).unwrap()
      // Listed at once, as the server answered it: the thread is named by the list (its title, its composer's label),
      // which the creation has read again, and that read may be slow to come, or fail.
      dispatch(
        api.util.updateQueryData('getConversations', undefined, (list) => {
          if (!list.some((c) => c.id === conversation.id)) list.push(conversation)
        }),
      )
      const route: Route = { page: 'messages', conversationId: conversation.id }
      const now = hrefFor(currentRoute())
      // The pair's conversation may be the one open: the route stays, so nothing else moves focus to its composer.
      const main = document.getElementById('main')
      if (now === hrefFor(route) && main) focusElement(main, 'composer')?.focus()
      // Not once the user has gone elsewhere while it was asked (a slow server): they are not taken from there.
      else if (now === askedFrom) navigate(route)
      return true
    } catch (refusal) {
      // said from the mutation's error, or by `refused`
      refused?.(refusal)
      return false
    }
  }
  return { start, busy: isLoading, error }
}
