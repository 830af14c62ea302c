import {
  Fragment,
  useCallback,
  useEffect,
  useId,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type KeyboardEvent,
  type RefCallback,
  type RefObject,
} from 'react'
import { FormattedList, FormattedMessage } from 'react-intl'
import { api, type ThreadMessage } from '../../api'
import { useGetMessagesQuery, useLazyGetMessagesBeforeQuery } from '../../api/hooks'
import { SAID_ONE_BY_ONE_AT_MOST, useAnnounce } from '../../app/Announcer'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector, useAppStore } from '../../app/hooks'
import { hrefFor } from '../../app/router'
import {
  characterCount,
  freeTextProblem,
  hasLoneSurrogate,
  MAX_CONTENT_LENGTH,
  type Id,
  type Message,
} from '../../contract'
import { type MessageId, useDates, useT } from '../../i18n'
import {
  discardMessage,
  pendingCopy,
  retryMessage,
  selectConnection,
  selectPendingMessages,
  selectSendRejection,
  selectTyping,
  sendTyping,
  useSocket,
} from '../../realtime'
import { useToastsAbove } from '../notifications/Toasts'
import { LoadError } from '../shared/controls'
import { useForgetOnReconnect } from '../shared/reconnected'
import { errorCode, errorMessageId } from '../shared/errors'
import { usePeople, type People } from '../shared/people'
import { PresenceLabel } from '../shared/Presence'
import { arrivedFromOthers, type ThreadLook } from './arrivals'
import { saveDrafts, useDrafts } from './drafts'
import { firstSeq, mergeOlder } from './order'
import { lastSeenOwn } from './receipts'
import { useSendsElsewhere } from './sendsElsewhere'
import { UnsavedNotice } from './UnsavedNotice'

const PAGE = 50
/** A screen touched with a finger, and no pointer that hovers: a phone's, whose on-screen keyboard has no Shift+Enter. */
const TOUCH_ONLY = '(hover: none) and (pointer: coarse)'
const touchQuery = () => (typeof window.matchMedia === 'function' ? window.matchMedia(TOUCH_ONLY) : null)
const followTouch = (onChange: () => void) => {
  const query = touchQuery()
  query?.addEventListener('change', onChange)
  return () => query?.removeEventListener('change', onChange)
}
/** Whether the device is touched only (`TOUCH_ONLY`), following a change (a keyboard and mouse plugged in). */
const useTouchOnly = () => useSyncExternalStore(followTouch, () => touchQuery()?.matches ?? false)

/**
 * The reader reaches the newest (which joins the room, marking read what is there) only at the list's very end: a
 * short message within a few lines of it may still be below the view, unseen. Within this much: a zoomed page scrolls
 * by fractions of a pixel.
 */
const AT_END_PX = 2
/**
 * Once there, the reader stays at the newest (joined, new messages scrolled into view) until this far up: a small
 * scroll back and forth near the end does not leave and join again, each join a write and a "Seen" to the other side.
 */
const LEFT_END_PX = 120

/**
 * The refusals that are final for a whole conversation, whatever is asked of it: gone from the server (its data
 * restored from an earlier copy), or no longer the user's. Anything asked again there is refused the same way.
 */
type Closed = 'NOT_FOUND' | 'FORBIDDEN'
const closedBy = (error: unknown): Closed | null => {
  const code = errorCode(error)
  return code === 'NOT_FOUND' || code === 'FORBIDDEN' ? code : null
}
/** Why a `Closed` conversation takes nothing more, in the words the composer shows. */
const CLOSED_WORDS = { NOT_FOUND: 'thread.gone', FORBIDDEN: 'thread.forbidden' } as const satisfies Record<
  Closed,
  MessageId
>

/** A message's identity from pending to sent (its `clientId` with its sender), or its id when it has no `clientId`. */
const messageKey = (m: Message) => (m.clientId === null ? `id:${m.id}` : `${m.senderId}:${m.clientId}`)

/** One conversation: joins its room while open, shows the messages, loads older ones, and the composer. */
export function Thread({
  conversationId,
  title,
  named = true,
  seenSeq,
  otherId,
}: {
  conversationId: string
  title: string
  /**
   * Whether `title` is as named as it will be: `false` while the conversation list that names the thread is still on its
   * way (its first read). The composer, labelled with it, waits for it before it takes focus.
   */
  named?: boolean
  /** The other participant (their presence in the header), once the conversation list has it. */
  otherId: string | null
  /** How far the other person has read (`Conversation.readSeq`). */
  seenSeq: number
}) {
  const t = useT()
  const dispatch = useAppDispatch()
  const store = useAppStore()
  const announce = useAnnounce()
  const me = useAppSelector(selectUser)
  const people = usePeople()
  // The other person inside a sentence ("Message to Bob"): with a conversation the list does not name (not yet, or its
  // read failed), "someone", not the heading's "Conversation".
  const titleInSentence = otherId === null ? t('people.someoneInSentence') : people.nameInSentence(otherId)
  const socket = useSocket()
  const rejection = useAppSelector(selectSendRejection)
  // With the session over, a pending send goes nowhere until the user logs in again (nor over HTTP): not "Sending…".
  const sessionOver = useAppSelector((state) => selectConnection(state).status === 'unauthorized')
  const typing = useAppSelector((state) => selectTyping(state, conversationId))
  const { data, isLoading, isFetching, error, refetch, fulfilledTimeStamp } = useGetMessagesQuery(conversationId)
  const messages = data ?? []
  // A thread not read yet has nowhere to show a message written in it, which would yet wait unsent, should the read fail
  // (gone, not the user's, or the server out of reach): no composer until it is read (a draft typed meanwhile would go
  // with the composer when the read fails, and a message sent then would wait unsent with no thread to show it), or until "Try again" reads it.
  const readable = data !== undefined
  // What the user wrote here and the outbox still holds (restored after a reload with the server out of reach) stays in
  // sight while the thread cannot be read, waiting as it does in the thread, with Retry and Discard when refused.
  const outbox = useAppSelector(selectPendingMessages)
  const waiting = useMemo(
    () =>
      readable
        ? []
        : outbox.filter((m) => m.conversationId === conversationId).map((m) => pendingCopy(m, me?.id ?? null)),
    [readable, outbox, conversationId, me?.id],
  )
  // A final refusal of this conversation (`Closed`) seen mid-session, by an older page or a send: until the thread is
  // read again (`read`, the read it was seen after), nothing more is offered that the server would refuse the same way.
  // The thread's own read refused so says it by itself.
  const [refused, setRefused] = useState<{ code: Closed; read: number | undefined } | null>(null)
  const closed = closedBy(error) ?? (refused !== null && refused.read === fulfilledTimeStamp ? refused.code : null)
  const refusedNow = useCallback((code: Closed) => setRefused({ code, read: fulfilledTimeStamp }), [fulfilledTimeStamp])
  const closedWords = closed === null ? null : t(CLOSED_WORDS[closed])
  // Said once as it comes (assertive: what the user was doing goes no further), while the composer it closes is there;
  // with the refusal of a send that closes it, in the same sentence (`closingSaid`). A thread drawn closed (coming back
  // to it) says it in the composer's description.
  const saidClosed = useRef(closed)
  const closingSaid = useRef<Closed | null>(null)
  useEffect(() => {
    if (closed === saidClosed.current) return
    saidClosed.current = closed
    if (closed === null || closedWords === null || !readable) return
    if (closingSaid.current === closed) closingSaid.current = null
    else announce(closedWords, 'assertive')
  }, [closed, closedWords, readable, announce])
  // The user's sends waiting in their other tabs, shown here too (read-only): taken for lost, they were written again.
  const { listed, elsewhere } = useSendsElsewhere(conversationId, readable ? messages : waiting)
  const [loadBefore, { isFetching: loadingEarlier, error: earlierError, reset: forgetEarlier }] =
    useLazyGetMessagesBeforeQuery()
  useForgetOnReconnect(earlierError, loadingEarlier, forgetEarlier)
  // Where the thread started when the server had nothing below it: a thread read again that starts elsewhere may have.
  const [nothingBelow, setNothingBelow] = useState<number | null>(null)
  const headingId = useId()
  const composerRef = useRef<HTMLTextAreaElement>(null)
  // Opening a conversation puts focus on its composer; one not read yet has none, so focus waits on the page's main
  // region. Once read, the composer takes it, unless the user has moved on meanwhile; and once named (the list read, or
  // failed): focus landing there says its label, which would otherwise say "Message to someone" for good.
  const ready = readable && named
  const wasReady = useRef(ready)
  useEffect(() => {
    const appeared = ready && !wasReady.current
    wasReady.current = ready
    const active = document.activeElement
    if (appeared && (active === null || active === document.body || active.id === 'main')) composerRef.current?.focus()
  }, [ready])

  // `nearBottom` as state (it decides the join below): the reader is at the newest messages, which are on screen.
  const [atNewest, setAtNewest] = useState(true)
  // Join while open and read, leave when another opens (the component is keyed by conversation). Joining marks the
  // thread read, and keeps marking read what comes while joined, and tells the other person "Seen": not while its
  // messages are not on screen (a read that failed), nor while the reader is up the thread, where what comes lands
  // below the view ("New message below") unseen. Reaching the end joins again, which marks read what they now see. The
  // hook's functions may be new on each render, so the effect reads them through a ref.
  const socketRef = useRef(socket)
  socketRef.current = socket
  useEffect(() => {
    if (!readable || !atNewest || closed) return
    socketRef.current.joinConversation(conversationId)
    return () => socketRef.current.leaveConversation(conversationId)
  }, [conversationId, readable, atNewest, closed])

  // Scrolling: start at the newest; follow new messages when the reader is near the bottom or sent them; keep the
  // view still when older messages are put above.
  const scroller = useRef<HTMLDivElement>(null)
  // Where Retry and Discard leave focus as their buttons go: the composer, or the messages when the thread cannot be
  // read (no composer then, its failed messages still shown).
  const focusOnFrom = useCallback(() => (composerRef.current ?? scroller.current)?.focus(), [])
  // The text of the user's last Discard here: the layer cannot call a discard back (the user's other tabs drop it too),
  // and a slip beside Retry would lose what was written. Undo, beside the composer, puts it back there (until a send).
  const [discarded, setDiscarded] = useState<string | null>(null)
  const onDiscard = useCallback(
    (content: string) => {
      setDiscarded(content)
      announce(t('thread.discarded'))
    },
    [announce, t],
  )
  const nearBottom = useRef(true)
  const lastId = useRef<string | null>(null)
  const lastKey = useRef<string | null>(null)
  const anchor = useRef<{ height: number; top: number } | null>(null)
  // How many messages from the other side came below the view while the reader was up the thread, which stays still
  // for them: a screen reader says each (below), a sighted reader sees a button that takes them there ("New message
  // below"), as chat apps show one. Not said again: it is no live region.
  const [newBelow, setNewBelow] = useState(0)
  const belowLook = useRef<ThreadLook | null>(null)
  useLayoutEffect(() => {
    const el = scroller.current
    if (!el) return
    const last = messages[messages.length - 1]
    // Our message confirmed takes the server's id but is the one written before: the reader may have scrolled up since
    // (it waited offline), and only a message just written brings them down.
    const key = last ? messageKey(last) : null
    let toEnd = false
    if (anchor.current) {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top
      anchor.current = null
    } else if (
      last &&
      // Near the bottom, whatever changed: another's message goes above ours still waiting, which stays the last one.
      (nearBottom.current || (last.senderId === me?.id && key !== lastKey.current) || lastId.current === null)
    ) {
      el.scrollTop = el.scrollHeight
      toEnd = true
    }
    lastId.current = last?.id ?? null
    lastKey.current = key
    // What the thread shows when it is first read is not new (as for the announcements).
    if (!readable) return
    const { fresh, look } = arrivedFromOthers(belowLook.current, messages, me?.id ?? null)
    belowLook.current = look
    if (toEnd) setNewBelow(0)
    else if (fresh.length > 0) setNewBelow((count) => count + fresh.length)
  }, [messages, me?.id, readable])
  // Another tab's waiting send comes or goes at the end: a reader there follows it, as for new messages.
  useLayoutEffect(() => {
    const el = scroller.current
    if (el && elsewhere.length > 0 && nearBottom.current) el.scrollTop = el.scrollHeight
  }, [elsewhere])
  const toNewest = () => {
    const el = scroller.current
    if (!el) return
    el.scrollTop = el.scrollHeight
    nearBottom.current = true
    setAtNewest(true)
    setNewBelow(0)
    // The button goes from under the keyboard: focus stays in the thread, on the messages it has brought into view.
    el.focus()
  }
  // The list's view shrinks with no message changed (the header gains the other person's presence once the conversation
  // list comes, after the messages on a slow phone; a notice above the composer; the window): the newest message, or
  // its last lines, would go below it. A reader at the end stays there.
  useEffect(() => {
    const el = scroller.current
    if (!el || typeof ResizeObserver !== 'function') return
    const observer = new ResizeObserver(() => {
      if (nearBottom.current) el.scrollTop = el.scrollHeight
    })
    observer.observe(el)
    return () => observer.disconnect()
  }, [])

  // New messages from the other side are said once each through the polite region, not by making the whole list
  // live (which would read the thread again on every change). What was there when the thread opened is not news. Once
  // read, the thread stays on screen through a read again that fails (its error above it), and takes what comes.
  const lastLook = useRef<ThreadLook | null>(null)
  // What came while the people were still being read waits for them (or for their read to fail), so that it is said
  // with the name of who wrote it, not "Someone".
  const heldNews = useRef<ThreadMessage[]>([])
  useEffect(() => {
    if (!readable) return
    const { fresh: arrived, look } = arrivedFromOthers(lastLook.current, messages, me?.id ?? null)
    lastLook.current = look
    heldNews.current.push(...arrived)
    if (people.loading || heldNews.current.length === 0) return
    const fresh = heldNews.current
    heldNews.current = []
    // A burst (what came while the stream was away) read out whole would hold the screen reader for minutes; the
    // messages are in the thread, to read at the user's pace.
    if (fresh.length > SAID_ONE_BY_ONE_AT_MOST) {
      announce(t('thread.announceMany', { count: fresh.length, name: people.nameInSentence(fresh.at(-1)!.senderId) }))
      return
    }
    // Each its own announcement (a node of the live region): joined into one text, the messages ran together into
    // one sentence ("…from Bob: one more New message from Bob: and another"), as their content has no end of its own.
    for (const m of fresh)
      announce(t('thread.announceNew', { name: people.nameInSentence(m.senderId), content: m.content }))
  }, [messages, readable, me?.id, announce, t, people])

  // A send the server refused is said at once, in the words shown beside it: the reader may be elsewhere in the page.
  // What had already failed when the thread opened is on screen, not news. A thread that cannot be read shows the
  // user's waiting messages all the same (`waiting`), and says theirs: nothing else would (the messages page leaves
  // the open thread's to it).
  const failedSaid = useRef<ReadonlySet<string> | null>(null)
  const shownMessages = readable ? messages : waiting
  useEffect(() => {
    const failed = shownMessages.filter((m) => m.status === 'failed' && m.clientId !== null)
    const said = failedSaid.current
    failedSaid.current = new Set(failed.map((m) => m.clientId!))
    const fresh = said === null ? [] : failed.filter((m) => !said.has(m.clientId!))
    if (fresh.length === 0) return
    // A refusal of the conversation itself closes it, said with the refusal (a thread not read has no composer).
    const final = closed === null ? fresh.map((m) => closedBy(m.error)).find((code) => code !== null) : undefined
    if (final) refusedNow(final)
    const closing = final && readable ? t(CLOSED_WORDS[final]) : null
    if (final && closing) closingSaid.current = final
    // Refused together (the outbox drained as the socket came back): once per reason, with how many, not "Not sent: …"
    // run together as many times.
    const reasons = new Map<string, number>()
    for (const m of fresh) {
      const reason = t(errorMessageId(m.error))
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
    }
    const sentences = [...reasons].map(([reason, count]) => t('thread.notSentMany', { reason, count }))
    announce([...sentences, ...(closing ? [closing] : [])].join(' '), 'assertive')
  }, [shownMessages, announce, t, refusedNow, closed, readable])

  const seenId = lastSeenOwn(messages, me?.id, seenSeq)
  // "Seen" coming under one of ours is said too, as "… is typing" is: a sighted reader sees it come. Once per message,
  // from the first look at the read thread with its conversation listed on: what was seen by then is not news, also
  // when it was not loaded yet (an older page, "Load earlier", brings "Seen" under a message read long ago). Only up to
  // what the thread held then: one of ours newer than that (sent elsewhere while the page opened) comes with "Seen"
  // moving down to it, which a sighted reader sees come.
  const seenMessageSeq = seenId === null ? 0 : (messages.find((m) => m.id === seenId)?.seq ?? 0)
  const loadedUpTo = messages.reduce((top, m) => Math.max(top, m.seq), 0)
  const seenSaidUpTo = useRef<number | null>(null)
  useEffect(() => {
    if (!readable || otherId === null) return
    if (seenSaidUpTo.current === null) seenSaidUpTo.current = Math.max(seenMessageSeq, Math.min(seenSeq, loadedUpTo))
    if (seenMessageSeq <= seenSaidUpTo.current) return
    seenSaidUpTo.current = seenMessageSeq
    announce(t('thread.announceSeen'))
  }, [readable, otherId, seenMessageSeq, seenSeq, loadedUpTo, announce, t])
  // "Seen" is drawn under our message, below the end the reader was at: who waits for it at the end sees it come.
  useLayoutEffect(() => {
    const el = scroller.current
    if (el && seenId !== null && nearBottom.current) el.scrollTop = el.scrollHeight
  }, [seenId])
  const start = firstSeq(messages)
  const hasEarlier = start !== null && start > 1 && start !== nothingBelow && closed === null

  const loadEarlier = async () => {
    // A second press while a page is on its way (the button is only aria-disabled) asks for nothing more.
    if (loadingEarlier) return
    const firstNow = () => firstSeq(api.endpoints.getMessages.select(conversationId)(store.getState()).data ?? [])
    let before = start
    let older: Message[] | null = null
    // The thread may be read again while the page is on its way (a gap, a reconnect): a page that no longer ends where
    // the thread starts would leave a hole nothing could fill. It is asked for again from where the thread starts now.
    for (let attempt = 0; attempt < 3 && before !== null; attempt++) {
      older = await loadBefore({ conversationId, before, limit: PAGE })
        .unwrap()
        .catch((refusal: unknown) => {
          const final = closedBy(refusal)
          if (final === null) return null
          // The button goes with it: focus stays in the thread, not on the page's start.
          if (document.activeElement?.closest('.load-earlier')) scroller.current?.focus()
          refusedNow(final)
          return null
        })
      if (!older || firstNow() === before) break
      before = firstNow()
      older = null
    }
    if (!older) return
    if (older.length === 0) setNothingBelow(before)
    const el = scroller.current
    // The button goes once the first message is in: focus stays in the thread, not on the page's start.
    const buttonGoes = older.length === 0 || Math.min(...older.map((m) => m.seq)) <= 1
    if (buttonGoes && el && document.activeElement?.closest('.load-earlier')) el.focus()
    if (el && older.length > 0) anchor.current = { height: el.scrollHeight, top: el.scrollTop }
    dispatch(api.util.updateQueryData('getMessages', conversationId, (draft) => mergeOlder(draft, older)))
  }

  /** Sends; `false` when the layer refused to queue it (outbox full), so the composer keeps the draft. */
  const send = (content: string): boolean => {
    const clientId = socket.sendMessage(conversationId, content)
    return selectSendRejection(store.getState())?.clientId !== clientId
  }

  return (
    <section className="thread" aria-labelledby={headingId} data-testid="thread" data-conversation-id={conversationId}>
      <header className="thread-head">
        <a className="back-link" href={hrefFor({ page: 'messages', conversationId: null })}>
          <span aria-hidden="true">←</span> <span className="sr-only-narrow">{t('thread.back')}</span>
        </a>
        <div className="thread-title">
          {/* The other person's name alone: its own direction, as in the list. */}
          <h2 id={headingId} tabIndex={-1} dir="auto">
            {title}
          </h2>
          {otherId && <PresenceLabel userId={otherId} />}
        </div>
      </header>
      <div
        className="thread-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget
          const fromEnd = el.scrollHeight - el.scrollTop - el.clientHeight
          if (fromEnd <= AT_END_PX) nearBottom.current = true
          else if (fromEnd >= LEFT_END_PX) nearBottom.current = false
          setAtNewest(nearBottom.current)
          if (nearBottom.current) setNewBelow(0)
        }}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard to scroll it (WCAG 2.1.1, axe scrollable-region-focusable); the messages often hold nothing focusable, and role=log is what the list is.
        tabIndex={0}
        role="log"
        // A log is polite by default; the announcer says what is new, so the list itself stays quiet.
        aria-live="off"
        aria-label={t('thread.log', { name: titleInSentence })}
        data-testid="message-list"
      >
        {hasEarlier && (
          <div className="load-earlier">
            {/* aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>. */}
            <button
              type="button"
              className="btn btn-quiet"
              onClick={loadEarlier}
              aria-disabled={loadingEarlier || undefined}
            >
              {loadingEarlier ? t('thread.loadingEarlier') : t('thread.loadEarlier')}
            </button>
            {/* An alert: the button only goes back to its words, and nothing else would tell why no page came. Gone while
                the page is asked for again, so that failing the same way again is said again (WCAG 4.1.3). */}
            {earlierError && !loadingEarlier && (
              <span className="form-error" role="alert">
                {t(errorMessageId(earlierError))}
              </span>
            )}
          </div>
        )}
        {isLoading && <p className="muted center">{t('thread.loading')}</p>}
        {/* Read again and refused for good, the thread stays in sight: the composer says why, once. */}
        {error && !(readable && closed) && (
          <LoadError error={error} retry={refetch} fetching={isFetching} className="center" />
        )}
        {!isLoading && !error && messages.length === 0 && elsewhere.length === 0 && (
          <p className="muted center">{t('thread.empty')}</p>
        )}
        {/* No list while there is nothing in it: a screen reader says an empty one ("list, 0 items"). */}
        {(shownMessages.length > 0 || elsewhere.length > 0) && (
          <ol className="msgs">
            {(readable ? listed : messages).map((m) => (
              <MessageItem
                // Our copy keeps its node from pending to sent; a clientId is unique per sender only.
                key={messageKey(m)}
                message={m}
                mine={m.senderId === me?.id}
                sender={people.nameOf(m.senderId)}
                seen={m.id === seenId}
                sessionOver={sessionOver}
                retryable={closed === null}
                focusOnFrom={focusOnFrom}
                onDiscard={onDiscard}
              />
            ))}
            {(readable ? waiting : listed).map((m) => (
              <MessageItem
                key={messageKey(m)}
                message={m}
                mine
                sender={people.nameOf(m.senderId)}
                seen={false}
                sessionOver={sessionOver}
                retryable={closed === null}
                focusOnFrom={focusOnFrom}
              />
            ))}
          </ol>
        )}
      </div>
      {newBelow > 0 && (
        // Over the foot of the list, taking no room of its own: the list's view does not shrink as it comes and goes.
        <div className="new-below">
          <button type="button" className="btn btn-small" data-testid="new-below" onClick={toNewest}>
            {t('thread.newBelow', { count: newBelow })}
          </button>
        </div>
      )}
      {/* Polite: said when someone starts typing, without interrupting. Always rendered, so the composer never jumps.
          Empty while the people are first read: it would say "Someone is typing…", then again with the name. Atomic:
          a change of a part only (the words after the name, on a change of language) is said as the whole sentence,
          not as "est en train d’écrire…" without who. */}
      <p className="typing-line" data-testid="typing" aria-live="polite" aria-atomic="true">
        {typing.length > 0 && !people.loading && <TypingLine typing={typing} people={people} />}
      </p>
      <UnsavedNotice />
      {readable && (
        <Composer
          conversationId={conversationId}
          onSend={send}
          onTyping={() => dispatch(sendTyping({ conversationId }))}
          to={titleInSentence}
          inputRef={composerRef}
          refused={rejection?.conversationId === conversationId ? rejection : null}
          discarded={discarded}
          forgetDiscarded={() => setDiscarded(null)}
          closed={closedWords}
        />
      )}
    </section>
  )
}

/**
 * Who is typing, as one sentence of the typing line. Those the page names are listed as the language does ("Bob and
 * Carol", "Bob et Carol"), each in its own <bdi> (a right-to-left name cannot take the list's commas), and the verb
 * agrees with how many type. Those it cannot name (not in the people's list) are counted after them, not named
 * "someone" once each: "Bob and someone else are typing…", "Bob and 2 others are typing…"; with nobody named, "Someone
 * is typing…", "2 people are typing…".
 */
function TypingLine({ typing, people }: { typing: readonly Id[]; people: People }) {
  const t = useT()
  const named = typing.filter((id) => people.isNamed(id))
  const unnamed = typing.length - named.length
  if (named.length === 0) return t('thread.typingUnnamed', { count: unnamed })
  const listed = named.map((id) => <bdi key={id}>{people.nameOf(id)}</bdi>)
  if (unnamed > 0) listed.push(<Fragment key="others">{t('thread.typingOthers', { count: unnamed })}</Fragment>)
  return (
    <FormattedMessage
      id="thread.typing"
      values={{ count: typing.length, names: <FormattedList type="conjunction" value={listed} /> }}
    />
  )
}

function MessageItem({
  message: m,
  mine,
  sender,
  seen,
  sessionOver,
  retryable,
  focusOnFrom,
  onDiscard,
}: {
  message: ThreadMessage
  mine: boolean
  sender: string
  seen: boolean
  /** The session has expired: a pending send waits for the next login. */
  sessionOver: boolean
  /** Whether a failed message may be sent again: not in a conversation refused for good (`Closed`). */
  retryable: boolean
  focusOnFrom: () => void
  /** The user's own Discard of this message, with its text (no composer to undo it into while the thread is unread). */
  onDiscard?: (content: string) => void
}) {
  const t = useT()
  const dates = useDates()
  const dispatch = useAppDispatch()
  const status = m.status ?? 'sent'
  const id = useId()
  // Retry and Discard remove the buttons that had focus: the composer is where the keyboard user goes on from.
  const act = (action: ReturnType<typeof retryMessage> | ReturnType<typeof discardMessage>) => {
    dispatch(action)
    focusOnFrom()
  }
  // The buttons also go when the message is settled in another tab (discarded there, or retried and sent): a removed
  // focused element leaves focus on <body>. The ref's cleanup runs while React removes the button, before it leaves the
  // page: focus is still on it, and goes where the user's own Retry and Discard put it.
  const keepFocus = useCallback<RefCallback<HTMLButtonElement>>(
    (el) => {
      if (!el) return
      return () => {
        if (el === document.activeElement) focusOnFrom()
      }
    },
    [focusOnFrom],
  )
  return (
    <li
      className={`msg${mine ? ' mine' : ''} msg-${status}`}
      data-testid="message"
      data-status={status}
      data-message-id={m.id}
      data-client-id={m.clientId ?? undefined}
    >
      {/* Who wrote it, for those who do not see which side it is on. */}
      <span className="sr-only">{mine ? t('thread.senderYou') : t('thread.sender', { name: sender })} </span>
      <p className="msg-body" dir="auto" id={`${id}-body`}>
        {m.content}
      </p>
      <p className="msg-meta">
        {status === 'pending' ? (
          <span className="msg-state">{t(sessionOver ? 'thread.waitingForLogin' : 'thread.sending')}</span>
        ) : status === 'failed' ? (
          <span className="msg-state msg-state-failed" id={`${id}-state`}>
            {t('thread.notSent', { reason: t(errorMessageId(m.error)) })}
          </span>
        ) : (
          <time dateTime={m.createdAt}>{dates.messageTime(m.createdAt)}</time>
        )}
      </p>
      {seen && (
        <p className="msg-seen" data-testid="seen">
          {t('thread.seen')}
        </p>
      )}
      {status === 'failed' && m.clientId && (
        <p className="msg-actions">
          {/* Several failed messages would otherwise read "Retry, Discard, Retry, Discard": each button is described by
              its own message's words and why it was refused, in the page's language, while its name stays the short
              one that is seen (and that voice control users say). */}
          {retryable && (
            <button
              ref={keepFocus}
              type="button"
              className="btn btn-small"
              aria-describedby={`${id}-body ${id}-state`}
              onClick={() => act(retryMessage({ clientId: m.clientId! }))}
            >
              {t('thread.retry')}
            </button>
          )}
          <button
            ref={keepFocus}
            type="button"
            className="btn btn-small btn-quiet"
            aria-describedby={`${id}-body ${id}-state`}
            onClick={() => {
              onDiscard?.(m.content)
              act(discardMessage({ clientId: m.clientId! }))
            }}
          >
            {t('thread.discard')}
          </button>
        </p>
      )}
    </li>
  )
}

function Composer({
  conversationId,
  onSend,
  onTyping,
  to,
  inputRef,
  refused,
  discarded,
  forgetDiscarded,
  closed,
}: {
  conversationId: string
  onSend: (content: string) => boolean
  /** Every keystroke that leaves text; the layer sends at most one notice every 2 seconds. */
  onTyping: () => void
  /** Whom the messages go to, as a sentence names them (`People.nameInSentence`): "Message to someone". */
  to: string
  inputRef: RefObject<HTMLTextAreaElement | null>
  refused: { code: string } | null
  /** The text of the message the user last discarded here, which Undo puts back in the field. */
  discarded: string | null
  forgetDiscarded: () => void
  /**
   * Why the conversation takes no more messages (refused for good, `Closed`), or null. The field keeps its text, read
   * only, to copy elsewhere; Send does nothing but say why.
   */
  closed: string | null
}) {
  const t = useT()
  const drafts = useDrafts()
  const [text, setTextState] = useState(() => drafts?.messages.get(conversationId) ?? '')
  const setText = (next: string) => {
    setTextState(next)
    if (!drafts) return
    if (next) drafts.messages.set(conversationId, next)
    else drafts.messages.delete(conversationId)
    saveDrafts(drafts)
  }
  const id = useId()
  const formRef = useRef<HTMLFormElement>(null)
  useToastsAbove(formRef)
  // Blank lines above and white space after go, the first line's indentation stays: trimmed, pasted code lost it on
  // its first line only and arrived misaligned. A leading U+FEFF (a pasted file's byte order mark) goes too: the server
  // refuses content starting with one.
  const content = text
    .replace(/^\s*\n/, '')
    .replace(/^\uFEFF+/, '')
    .trimEnd()
  // Characters nobody sees (U+200B, a Hangul filler) alone are as blank as spaces: sent, both sides would see an empty
  // bubble.
  const nothing = freeTextProblem(content) === 'empty'
  // In characters, as the server counts them: an emoji is one.
  const length = characterCount(content)
  const tooLong = length > MAX_CONTENT_LENGTH
  // What the server refuses beside the length, both invisible and pasted in with the text (a terminal's output keeps
  // its NULs in a textarea): sent, it would fail at once, the draft gone, with a Retry that fails the same way.
  const unsendable = content.includes('\u0000') || hasLoneSurrogate(content)
  // Why Send is off, said once as the draft goes over the limit (the hint was read when the field got focus). A draft
  // restored over it went over before the user left: coming back, focus lands in the field, whose description says it.
  const announce = useAnnounce()
  const saidTooLong = useRef(tooLong)
  useEffect(() => {
    if (tooLong && !saidTooLong.current) announce(t('thread.tooLong', { length, max: MAX_CONTENT_LENGTH }))
    saidTooLong.current = tooLong
  }, [tooLong, length, announce, t])
  const saidUnsendable = useRef(unsendable)
  useEffect(() => {
    if (unsendable && !saidUnsendable.current) announce(t('thread.unsendable'))
    saidUnsendable.current = unsendable
  }, [unsendable, announce, t])

  // A send refused (the outbox full) is said as the user's send brings it, each time. One already there when the
  // composer is drawn was said then: coming back to the conversation, it is in the field's description, as text.
  const saidRefusal = useRef(refused)
  useEffect(() => {
    if (refused && refused !== saidRefusal.current) announce(t(errorMessageId(refused)), 'assertive')
    saidRefusal.current = refused
  }, [refused, announce, t])

  /**
   * Enter on a draft of only spaces (or none): the contract would take spaces, but the composer never sends a blank
   * message; it says so on the field rather than do nothing.
   */
  const [blank, setBlank] = useState(false)
  // Emptied by a send, nothing typed since: a quick second press (a double tap, a bouncing key) is not a blank draft,
  // and "Nothing to send" in red would stand under a message that went.
  const emptiedBySend = useRef(false)
  const send = () => {
    if (closed) {
      announce(closed, 'assertive')
      return
    }
    if (nothing && emptiedBySend.current) return
    if (nothing) {
      setBlank(true)
      // Each press, as for a draft over the limit: pressed, Send did nothing, and the user hears why.
      announce(t('thread.blank'), 'assertive')
      inputRef.current?.focus()
      return
    }
    if (tooLong) {
      // Said again though nothing changed since it went over: pressed, Send did nothing, and focus stays where it was.
      announce(t('thread.tooLong', { length, max: MAX_CONTENT_LENGTH }), 'assertive')
      return
    }
    if (unsendable) {
      announce(t('thread.unsendable'), 'assertive')
      return
    }
    if (!onSend(content)) return
    emptiedBySend.current = true
    setText('')
    forgetDiscarded()
    // Send is disabled once the draft is empty: from there, the keyboard goes on in the composer, not on a dead button.
    inputRef.current?.focus()
  }
  // On a touch screen Enter is the on-screen keyboard's new line, which it has no other way to type; Send sends.
  const touchOnly = useTouchOnly()
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a newline; never while an input method is composing a character, nor on the Enter
    // that confirms a composition: Safari ends the composition before that keydown (isComposing false), which it marks
    // with keyCode 229 (the input method's key).
    if (e.key === 'Enter' && !e.shiftKey && !touchOnly && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault()
      // A held key's repeats: the first press sent, and each repeat would find the draft empty and say so.
      if (!e.repeat) send()
    }
  }

  return (
    <form
      ref={formRef}
      className="composer"
      onSubmit={(e) => {
        e.preventDefault()
        send()
      }}
    >
      <label htmlFor={`${id}-text`} className="sr-only">
        {t('thread.composerLabel', { name: to })}
      </label>
      <textarea
        id={`${id}-text`}
        ref={inputRef}
        data-testid="composer"
        rows={2}
        // Laid out in the text's own direction, as the message it becomes (`.msg-body`): in an LTR page a right-to-left
        // draft would otherwise show its punctuation and Latin words on the other side.
        dir="auto"
        value={text}
        onChange={(e) => {
          emptiedBySend.current = false
          setText(e.target.value)
          setBlank(false)
          if (e.target.value.trim()) onTyping()
        }}
        onKeyDown={onKeyDown}
        enterKeyHint={touchOnly ? 'enter' : 'send'}
        readOnly={closed !== null}
        placeholder={closed ? undefined : t('thread.composerPlaceholder')}
        aria-describedby={refused ? `${id}-hint ${id}-refused` : `${id}-hint`}
        aria-invalid={blank || tooLong || unsendable || undefined}
      />
      {/* Closed: aria-disabled, and a press says why (a focused button that becomes disabled loses focus to
          <body>). */}
      <button
        type="submit"
        className="btn btn-primary"
        disabled={nothing || tooLong || unsendable}
        aria-disabled={closed !== null || undefined}
      >
        {t('thread.send')}
      </button>
      <p id={`${id}-hint`} className={`composer-hint${closed || tooLong || unsendable || blank ? ' form-error' : ''}`}>
        {closed
          ? closed
          : tooLong
            ? t('thread.tooLong', { length, max: MAX_CONTENT_LENGTH })
            : unsendable
              ? t('thread.unsendable')
              : blank
                ? t('thread.blank')
                : t(touchOnly ? 'thread.hintTouch' : 'thread.hint')}
      </p>
      {refused && (
        <p id={`${id}-refused`} className="form-error composer-refused">
          {t(errorMessageId(refused))}
        </p>
      )}
      {discarded !== null && (
        <p className="composer-undo">
          <span id={`${id}-discarded`}>{t('thread.discarded')}</span>
          <button
            type="button"
            className="btn btn-small btn-quiet"
            aria-describedby={`${id}-discarded`}
            onClick={() => {
              // After what is written meanwhile, not over it. The button goes: focus goes on in the field.
              setText(text ? `${text}\n${discarded}` : discarded)
              emptiedBySend.current = false
              setBlank(false)
              forgetDiscarded()
              inputRef.current?.focus()
            }}
          >
            {t('thread.undo')}
          </button>
        </p>
      )}
    </form>
  )
}
