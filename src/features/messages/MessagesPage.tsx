import { useId, useMemo, useRef, useState, type FormEvent } from 'react'
import { FormattedMessage } from 'react-intl'
import { useGetConversationsQuery } from '../../api/hooks'
import { selectUser } from '../../app/authSlice'
import { useAppSelector } from '../../app/hooks'
import { hrefFor } from '../../app/router'
import type { Conversation } from '../../contract'
import { useDates, useT } from '../../i18n'
import { FieldError, FormError, LoadError, PeopleLoadError, useGoneTutor } from '../shared/controls'
import { errorCode } from '../shared/errors'
import { useFieldWords } from '../shared/fieldWords'
import { useFailedConversations } from './failedNews'
import { ROLE_GROUP_LABEL, usePeople } from '../shared/people'
import { PresenceLabel } from '../shared/Presence'
import { useStartConversation } from '../shared/startConversation'
import { useFocusKeptWhenNarrowed } from './narrowFocus'
import { Thread } from './Thread'
import { UnsavedNotice, useSayUnsaved } from './UnsavedNotice'

/** The picker's groups, in order: the people of the other role first, those the user mostly writes to. */
const GROUPS = { student: ['tutor', 'student'], tutor: ['student', 'tutor'] } as const

const activity = (c: Conversation) => Date.parse(c.lastMessage?.createdAt ?? c.updatedAt) || 0

/** The conversation list (newest first) and, when one is selected, its thread. */
export function MessagesPage({ conversationId }: { conversationId: string | null }) {
  const t = useT()
  const dates = useDates()
  const me = useAppSelector(selectUser)
  const people = usePeople()
  const { data: conversations, isLoading, isFetching, error, refetch } = useGetConversationsQuery()
  // While keyboard focus is in the list, it keeps its order (news changes a conversation in place, and one new to the
  // list comes first): a browser blurs a focused link that a re-sort moves in the DOM. Most recent first again once
  // focus has left it.
  const [heldOrder, setHeldOrder] = useState<readonly string[] | null>(null)
  const sorted = useMemo(() => {
    const byActivity = [...(conversations ?? [])].sort((a, b) => activity(b) - activity(a))
    if (heldOrder === null) return byActivity
    const place = new Map(heldOrder.map((id, i) => [id, i]))
    const at = (c: Conversation) => place.get(c.id) ?? -1
    return byActivity.sort((a, b) => at(a) - at(b))
  }, [conversations, heldOrder])
  const selected = sorted.find((c) => c.id === conversationId)
  const otherOf = (c: Conversation) => c.participantIds.find((id) => id !== me?.id) ?? me?.id ?? ''
  useSayUnsaved()
  const failedIn = useFailedConversations()

  const pane = useRef<HTMLElement>(null)
  useFocusKeptWhenNarrowed(pane, conversationId !== null)

  return (
    <div className={`messages${conversationId ? ' has-thread' : ''}`}>
      <section
        ref={pane}
        className={`conv-pane${conversationId ? ' sr-only-narrow' : ''}`}
        aria-labelledby="conv-heading"
      >
        <h1 id="conv-heading" tabIndex={-1}>
          {t('messages.title')}
        </h1>
        {/* With a conversation open, the notice is in its thread, above the composer. */}
        {!conversationId && <UnsavedNotice />}
        <NewConversation />
        {isLoading && <p className="muted">{t('messages.loading')}</p>}
        {error && <LoadError error={error} retry={refetch} fetching={isFetching} />}
        {conversations && sorted.length === 0 && <p className="muted">{t('messages.empty')}</p>}
        <ul
          className="conv-list"
          data-testid="conversation-list"
          onFocus={() => setHeldOrder((held) => held ?? sorted.map((c) => c.id))}
          onBlur={(e) => {
            // Not when the window loses focus (another app, another tab): the link keeps it, for when the user is back.
            const to = e.relatedTarget as Node | null
            if (!e.currentTarget.contains(to) && (to !== null || document.hasFocus())) setHeldOrder(null)
          }}
        >
          {sorted.map((c) => {
            const last = c.lastMessage
            return (
              <li key={c.id}>
                <a
                  className={`conv${c.unreadCount > 0 ? ' conv-unread' : ''}`}
                  href={hrefFor({ page: 'messages', conversationId: c.id })}
                  aria-current={c.id === conversationId ? 'page' : undefined}
                  data-testid="conversation"
                  data-conversation-id={c.id}
                >
                  <span className="conv-top">
                    <span className="conv-name" dir="auto">
                      {people.nameOf(otherOf(c))}
                    </span>
                    {last && <span className="conv-time">{dates.messageTime(last.createdAt)}</span>}
                  </span>
                  <PresenceLabel userId={otherOf(c)} />
                  <span className="conv-bottom">
                    <span className="conv-last" data-testid="conversation-last" dir="auto">
                      {last ? (
                        last.senderId === me?.id ? (
                          // The sentence's direction is ours ("You:"), the message keeps its own.
                          <FormattedMessage id="messages.lastFromMe" values={{ content: <bdi>{last.content}</bdi> }} />
                        ) : (
                          last.content
                        )
                      ) : (
                        t('messages.noMessagesYet')
                      )}
                    </span>
                    {failedIn.has(c.id) && (
                      <span className="conv-failed" data-testid="conversation-failed">
                        {t('messages.notSent')}
                      </span>
                    )}
                    {c.unreadCount > 0 && (
                      <span className="count" data-testid="unread-count">
                        <span aria-hidden="true">{c.unreadCount}</span>
                        <span className="sr-only">{t('count.unreadMessages', { count: c.unreadCount })}</span>
                      </span>
                    )}
                  </span>
                </a>
              </li>
            )
          })}
        </ul>
      </section>
      {conversationId ? (
        <Thread
          key={conversationId}
          conversationId={conversationId}
          title={selected ? people.nameOf(otherOf(selected)) : t('messages.conversation')}
          named={(selected !== undefined || !isLoading) && !people.loading}
          seenSeq={selected?.readSeq?.[otherOf(selected)] ?? 0}
          otherId={selected ? otherOf(selected) : null}
        />
      ) : (
        <section className="thread thread-empty" aria-label={t('messages.conversation')}>
          <p className="muted">{t('messages.choose')}</p>
        </section>
      )}
    </div>
  )
}

function NewConversation() {
  const t = useT()
  const id = useId()
  const me = useAppSelector(selectUser)
  const { others, nameInSentence } = usePeople()
  const [participantId, setParticipantId] = useState('')
  const { start, busy: isLoading, error } = useStartConversation()
  // Someone the server no longer has (404 'user not found'), said on the field as the forms' tutor fields say theirs.
  const gone = useGoneTutor()
  const whoRef = gone.selectRef
  useFieldWords(whoRef)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (!participantId) return
    // The person just refused as gone: asked again, they would be refused the same way. The place goes to the field
    // that says so, and names another choice.
    if (participantId === gone.gone) {
      whoRef.current?.focus()
      return
    }
    const asked = participantId
    gone.clear()
    if (await start(asked, (refusal) => gone.refused(refusal, asked))) setParticipantId('')
  }

  return (
    <form className="new-conv" onSubmit={submit}>
      <label htmlFor={`${id}-who`}>{t('messages.writeTo')}</label>
      <div className="inline">
        <select
          id={`${id}-who`}
          ref={whoRef}
          value={participantId}
          onChange={(e) => {
            setParticipantId(e.target.value)
            gone.clear()
          }}
          required
          aria-invalid={gone.gone !== null || undefined}
          aria-describedby={gone.gone !== null ? `${id}-who-error` : undefined}
        >
          <option value="">{t('messages.choosePerson')}</option>
          {/* The role heads its group, and each choice is the name alone: a select draws its choice on one line, and
              "Carol Lindqvist (compte tuteur)" was cut at 320 px (WCAG 1.4.10). */}
          {GROUPS[me?.role ?? 'student'].map((role) => {
            const group = others.filter((u) => u.role === role)
            return (
              group.length > 0 && (
                <optgroup key={role} label={t(ROLE_GROUP_LABEL[role])}>
                  {/* The name alone, in its own direction (dir="auto", as in the list): no invisible isolate before
                      it, which the browser's type-ahead would have to match before the name's first letters. */}
                  {group.map((u) => (
                    <option key={u.id} value={u.id} dir="auto">
                      {u.name}
                    </option>
                  ))}
                </optgroup>
              )
            )
          })}
        </select>
        {/* aria-disabled, not disabled: a focused button that becomes disabled (its request running, or the choice
            cleared once it is done) loses focus to <body>. With no one chosen, the required select says so; with the
            person refused as gone, its field does. */}
        <button
          type="submit"
          className="btn"
          aria-disabled={!participantId || isLoading || participantId === gone.gone || undefined}
        >
          {t('messages.start')}
        </button>
      </div>
      {gone.gone !== null && (
        <FieldError id={`${id}-who-error`} message={t('messages.personGone', { name: nameInSentence(gone.gone) })} />
      )}
      <PeopleLoadError focusTo={whoRef} />
      {/* Said on the field instead, until another person is chosen or asked. */}
      <FormError error={errorCode(error) === 'NOT_FOUND' ? null : error} />
    </form>
  )
}
