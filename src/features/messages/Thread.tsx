import { useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react'
import { api, useGetMessagesQuery, useLazyGetMessagesBeforeQuery, type ThreadMessage } from '../../api'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector } from '../../app/hooks'
import { hrefFor } from '../../app/router'
import { MAX_CONTENT_LENGTH } from '../../contract'
import { discardMessage, retryMessage, useSocket } from '../../realtime'
import { LoadError } from '../shared/controls'
import { errorMessage } from '../shared/errors'
import { formatMessageTime } from '../shared/format'
import { usePeople } from '../shared/people'
import { firstSeq, mergeOlder } from './order'

const PAGE = 50
/** Within this many pixels of the bottom counts as "reading the newest", so new messages scroll into view. */
const NEAR_BOTTOM_PX = 120

/** One conversation: joins its room while open, shows the messages, loads older ones, and the composer. */
export function Thread({ conversationId, title }: { conversationId: string; title: string }) {
  const dispatch = useAppDispatch()
  const me = useAppSelector(selectUser)
  const people = usePeople()
  const socket = useSocket()
  const { data: messages = [], isLoading, error, refetch } = useGetMessagesQuery(conversationId)
  const [loadBefore, { isFetching: loadingEarlier, error: earlierError }] = useLazyGetMessagesBeforeQuery()
  const [noMoreEarlier, setNoMoreEarlier] = useState(false)
  const headingId = useId()

  // Join while open, leave when another opens (the component is keyed by conversation). The hook's functions may be
  // new on each render, so the effect reads them through a ref and depends on the conversation only.
  const socketRef = useRef(socket)
  socketRef.current = socket
  useEffect(() => {
    socketRef.current.joinConversation(conversationId)
    return () => socketRef.current.leaveConversation(conversationId)
  }, [conversationId])

  // Scrolling: start at the newest; follow new messages when the reader is near the bottom or sent them; keep the
  // view still when older messages are put above.
  const scroller = useRef<HTMLDivElement>(null)
  const nearBottom = useRef(true)
  const lastId = useRef<string | null>(null)
  const anchor = useRef<{ height: number; top: number } | null>(null)
  const last = messages[messages.length - 1]
  useLayoutEffect(() => {
    const el = scroller.current
    if (!el) return
    if (anchor.current) {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top
      anchor.current = null
    } else if (last && last.id !== lastId.current && (nearBottom.current || last.senderId === me?.id || lastId.current === null)) {
      el.scrollTop = el.scrollHeight
    }
    lastId.current = last?.id ?? null
  }, [messages, last, me?.id])

  const start = firstSeq(messages)
  const hasEarlier = !noMoreEarlier && start !== null && start > 1

  const loadEarlier = async () => {
    if (start === null) return
    const older = await loadBefore({ conversationId, before: start, limit: PAGE }).unwrap().catch(() => null)
    if (!older) return
    if (older.length === 0) setNoMoreEarlier(true)
    const el = scroller.current
    if (el && older.length > 0) anchor.current = { height: el.scrollHeight, top: el.scrollTop }
    dispatch(api.util.updateQueryData('getMessages', conversationId, (draft) => mergeOlder(draft, older)))
  }

  return (
    <section className="thread" aria-labelledby={headingId} data-testid="thread" data-conversation-id={conversationId}>
      <header className="thread-head">
        <a className="back-link" href={hrefFor({ page: 'messages', conversationId: null })}>
          <span aria-hidden="true">←</span> <span className="sr-only-narrow">All conversations</span>
        </a>
        <h2 id={headingId}>{title}</h2>
      </header>
      <div
        className="thread-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget
          nearBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX
        }}
        tabIndex={0}
        role="log"
        aria-label={`Messages with ${title}`}
        data-testid="message-list"
      >
        {hasEarlier && (
          <div className="load-earlier">
            <button type="button" className="btn btn-quiet" onClick={loadEarlier} disabled={loadingEarlier}>
              {loadingEarlier ? 'Loading…' : 'Load earlier messages'}
            </button>
            {earlierError && <span className="form-error">{errorMessage(earlierError)}</span>}
          </div>
        )}
        {isLoading && <p className="muted center">Loading messages…</p>}
        {error && (
          <LoadError error={error} retry={refetch} className="center" />
        )}
        {!isLoading && !error && messages.length === 0 && <p className="muted center">No messages yet. Say hello!</p>}
        <ol className="msgs">
          {messages.map((m) => (
            <MessageItem key={m.clientId ?? m.id} message={m} mine={m.senderId === me?.id} sender={people.nameOf(m.senderId)} />
          ))}
        </ol>
      </div>
      <Composer onSend={(content) => socket.sendMessage(conversationId, content)} to={title} />
    </section>
  )
}

function MessageItem({ message: m, mine, sender }: { message: ThreadMessage; mine: boolean; sender: string }) {
  const dispatch = useAppDispatch()
  const status = m.status ?? 'sent'
  return (
    <li
      className={`msg${mine ? ' mine' : ''} msg-${status}`}
      data-testid="message"
      data-status={status}
      data-message-id={m.id}
      data-client-id={m.clientId ?? undefined}
    >
      {!mine && <span className="sr-only">{sender}: </span>}
      <p className="msg-body">{m.content}</p>
      <p className="msg-meta">
        {status === 'pending' ? (
          <span className="msg-state">Sending…</span>
        ) : status === 'failed' ? (
          <span className="msg-state msg-state-failed">Not sent{m.error ? `: ${m.error.message}` : ''}</span>
        ) : (
          <time dateTime={m.createdAt}>{formatMessageTime(m.createdAt)}</time>
        )}
      </p>
      {status === 'failed' && m.clientId && (
        <p className="msg-actions">
          <button type="button" className="btn btn-small" onClick={() => dispatch(retryMessage({ clientId: m.clientId! }))}>
            Retry
          </button>
          <button type="button" className="btn btn-small btn-quiet" onClick={() => dispatch(discardMessage({ clientId: m.clientId! }))}>
            Discard
          </button>
        </p>
      )}
    </li>
  )
}

function Composer({ onSend, to }: { onSend: (content: string) => void; to: string }) {
  const [text, setText] = useState('')
  const id = useId()
  const content = text.trim()
  const tooLong = content.length > MAX_CONTENT_LENGTH

  const send = () => {
    if (!content || tooLong) return
    onSend(content)
    setText('')
  }
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a newline; never while an input method is composing a character.
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      send()
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault()
        send()
      }}
    >
      <label htmlFor={`${id}-text`} className="sr-only">
        Message to {to}
      </label>
      <textarea
        id={`${id}-text`}
        data-testid="composer"
        rows={2}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        placeholder="Write a message…"
        aria-describedby={`${id}-hint`}
      />
      <button type="submit" className="btn btn-primary" disabled={!content || tooLong}>
        Send
      </button>
      <p id={`${id}-hint`} className={`composer-hint${tooLong ? ' form-error' : ''}`}>
        {tooLong ? `${content.length} / ${MAX_CONTENT_LENGTH} characters: too long` : 'Enter sends · Shift+Enter for a new line'}
      </p>
    </form>
  )
}
