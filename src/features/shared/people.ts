import { useMemo } from 'react'
import { useGetUsersQuery } from '../../api/hooks'
import { selectUser } from '../../app/authSlice'
import { useAppSelector } from '../../app/hooks'
import type { Id, User } from '../../contract'
import { useT, type MessageId } from '../../i18n'

/** How a role is said ("student" / "élève"). */
export const ROLE_LABEL: Record<User['role'], MessageId> = { student: 'role.student', tutor: 'role.tutor' }
/** How a group of people of one role is headed ("Tutors" / "Comptes tuteur"). */
export const ROLE_GROUP_LABEL: Record<User['role'], MessageId> = { student: 'role.students', tutor: 'role.tutors' }

export interface People {
  /** Everyone the logged-in user can write to or book (not the user). */
  others: User[]
  tutors: User[]
  /**
   * A display name for any id, the user included; a short placeholder for someone unknown ("Someone"), capitalised as
   * it stands alone (a heading, a conversation in the list) or starts a sentence ("Someone: …").
   */
  nameOf(id: Id): string
  /**
   * The name as a sentence says it inside itself: `nameOf`'s, but someone unknown is "someone" in lower case ("A message
   * to someone was not sent.", "Decline someone’s request?"). The user stays "You": no sentence names them (the server
   * makes no conversation, lesson or request of a user with themselves).
   *
   * @example t('thread.composerLabel', { name: people.nameInSentence(id) }) // 'Message to someone'
   */
  nameInSentence(id: Id): string
  /** The page has a name for them (the user, or someone in the people's list): `nameOf` is not the placeholder. */
  isNamed(id: Id): boolean
  /**
   * The people are still on their first read: `nameOf` says "Someone" for now. What is said aloud waits for it to end
   * (read or failed), so that it names whom it is about as its text on screen soon will.
   */
  loading: boolean
}

export function usePeople(): People {
  const me = useAppSelector(selectUser)
  const { data, isLoading: loading } = useGetUsersQuery()
  const t = useT()
  return useMemo(() => {
    const byId = new Map<Id, User>()
    for (const u of data ?? []) byId.set(u.id, u)
    if (me) byId.set(me.id, me)
    const others = (data ?? []).filter((u) => u.id !== me?.id)
    return {
      others,
      tutors: others.filter((u) => u.role === 'tutor'),
      nameOf: (id) => (id === me?.id ? t('people.you') : (byId.get(id)?.name ?? t('people.someone'))),
      nameInSentence: (id) => (id === me?.id ? t('people.you') : (byId.get(id)?.name ?? t('people.someoneInSentence'))),
      isNamed: (id) => byId.has(id),
      loading,
    }
  }, [data, loading, me, t])
}
