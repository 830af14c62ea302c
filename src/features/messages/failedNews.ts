import { useEffect, useMemo, useRef } from 'react'
import { SAID_ONE_BY_ONE_AT_MOST, useAnnounce } from '../../app/Announcer'
import { selectUser } from '../../app/authSlice'
import { useAppSelector } from '../../app/hooks'
import type { Conversation, Id } from '../../contract'
import { useT } from '../../i18n'
import { selectPendingMessages } from '../../realtime'
import { usePeople } from '../shared/people'

/** The conversations holding a send the server refused for good (failed, waiting for Retry or Discard). */
export function useFailedConversations(): ReadonlySet<Id> {
  const outbox = useAppSelector(selectPendingMessages)
  return useMemo(() => new Set(outbox.filter((m) => m.status === 'failed').map((m) => m.conversationId)), [outbox])
}

/**
 * Says a send refused for good, once, on whichever page is open (the layout calls it): "A message to Bob was not
 * sent.", with how many when more came together; refused in more conversations than are said one by one, how many
 * messages in how many conversations. The open thread says its own (`openId`). What had already failed when
 * the user's visit began is on screen (the list's marker, the navigation's), not news.
 */
export function useFailedNews(conversations: readonly Conversation[] | undefined, openId: Id | null): void {
  const t = useT()
  const me = useAppSelector(selectUser)
  const people = usePeople()
  const outbox = useAppSelector(selectPendingMessages)
  const announce = useAnnounce()
  const failedSaid = useRef<ReadonlySet<string> | null>(null)
  useEffect(() => {
    const failed = outbox.filter((m) => m.status === 'failed')
    const said = failedSaid.current
    if (said !== null && people.loading) {
      // Refused while the people are read, it waits to be said with the name; what the open thread said is said.
      const kept = failed.filter((m) => said.has(m.clientId) || m.conversationId === openId)
      failedSaid.current = new Set(kept.map((m) => m.clientId))
      return
    }
    failedSaid.current = new Set(failed.map((m) => m.clientId))
    if (said === null) return
    const fresh = failed.filter((m) => !said.has(m.clientId) && m.conversationId !== openId)
    // One sentence per conversation, with how many of its messages were refused; refused in more conversations than
    // that, one sentence with how many (the list marks each, to read at the user's pace).
    const counts = new Map<string, number>()
    for (const m of fresh) counts.set(m.conversationId, (counts.get(m.conversationId) ?? 0) + 1)
    if (counts.size > SAID_ONE_BY_ONE_AT_MOST) {
      announce(t('messages.notSentInMany', { count: fresh.length, conversations: counts.size }))
      return
    }
    const sentences = [...counts].map(([id, count]) => {
      // A conversation the list does not hold (its read failed) is with someone, not with the user alone.
      const listed = conversations?.find((x) => x.id === id)
      const name = people.nameInSentence(
        listed ? (listed.participantIds.find((p) => p !== me?.id) ?? me?.id ?? '') : '',
      )
      return t('messages.notSentTo', { name, count })
    })
    if (sentences.length > 0) announce(sentences.join(' '))
  }, [outbox, openId, conversations, me?.id, people, announce, t])
}
