import { type Middleware, nanoid, type UnknownAction } from '@reduxjs/toolkit'
import { api, REFRESH_LOCK_WAIT_MS, REFRESH_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../api'
import { answeredStatus } from '../../api/answeredStatus'
import {
  CONTACT_REQUEST_TRANSITIONS,
  type Id,
  LESSON_TRANSITIONS,
  type Role,
  type ServerEventName,
  type ServerEventPayload,
  settersOf,
  type TransitionTable,
  type User,
} from '../../contract'
import type { Message } from '../../i18n'
import { currentRoute, type Page } from '../../app/router'
import { connected, serverEventOfType, syncCaughtUp, syncGap, type TabLock } from '../../realtime'
import { createViewState } from '../../app/viewState'
import { createWebTabLock, type LockManagerLike } from '../../realtime/tabs/tabLock'
import { hostTimers, type TimerHandle, type Timers } from '../../realtime/timers'

export interface Toast {
  id: number
  /** The page the toast points to; a toast is only raised when another page is open. */
  page: Exclude<Page, 'messages'>
  message: Message
  /**
   * The other person the news is about, when its words name them (`{name}`): named as the page knows them when it is
   * shown, so people read after the news still get their name.
   */
  person?: Id
}

export interface Toaster {
  /** Give it to `makeStore({ extraMiddleware: [toaster.middleware] })`: it sees every action. */
  middleware: Middleware
  subscribe(listener: () => void): () => void
  getSnapshot(): readonly Toast[]
  dismiss(id: number): void
  /**
   * `true` while the user is in the toast region (keyboard focus or the pointer): no toast's time runs out meanwhile
   * (WCAG 2.2.1). Back to `false`, each toast left gets a fresh `ttlMs`, not what remained of it.
   */
  pause(paused: boolean): void
  /**
   * News of a new card on the page that is open (an entry of `TOAST_NEWS` with `listed`): no toast, its card is there, but nothing in
   * the page says it arrived; the listener says it (the toast region, through the announcer).
   */
  subscribeSaid(listener: (message: Message, person?: Id) => void): () => void
}

/**
 * What reaches the toasters of the user's other tabs (a `BroadcastChannel`'s shape, narrowed): a post reaches every
 * other subscriber, never its own.
 */
export interface ToastChannel {
  post(message: unknown): void
  subscribe(listener: (message: unknown) => void): () => void
}

/**
 * The toasters' channel between the tabs of this browser (`BroadcastChannel`), or none where the page has none.
 *
 * @example createToaster({ channel: browserToastChannel() })
 */
export function browserToastChannel(name = 'talemy.toasts'): ToastChannel | undefined {
  if (typeof BroadcastChannel !== 'function') return undefined
  const channel = new BroadcastChannel(name)
  return {
    post: (message) => channel.postMessage(message),
    subscribe(listener) {
      const onMessage = (event: MessageEvent) => listener(event.data)
      channel.addEventListener('message', onMessage)
      return () => channel.removeEventListener('message', onMessage)
    },
  }
}

/**
 * The page locks of this browser (Web Locks), or none where the page has none.
 *
 * @example createToaster({ channel: browserToastChannel(), pageLock: browserPageLock() })
 */
export function browserPageLock(): TabLock | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  return locks && typeof locks.request === 'function' ? createWebTabLock(locks) : undefined
}

interface ToasterOptions {
  /**
   * The user's other tabs: each tells the others of the status changes it asks for (and their answers), and a tab
   * opening of those still waiting for theirs, so that a cancellation asked for in one (either side may make it) is no
   * news in another.
   */
  channel?: ToastChannel
  /**
   * Calls the listener when this tab is closed or left (`pagehide`): the changes it asked for and got no answer to are
   * then told to the other tabs as unanswered, or those would take the same change for the user's own until its event
   * came, however late, and whoever made it. Defaults to the window's `pagehide`.
   */
  pageHide?: (listener: () => void) => () => void
  /**
   * The page locks of this browser's tabs (Web Locks): this toaster holds one for as long as its page lives, and
   * watches those of the tabs that tell it of their changes. The browser frees a crashed tab's lock, which says no
   * `pagehide`: its changes are then taken as those of a tab closed before their answers. Without it, they are awaited
   * as long as that tab could have waited for them (`OTHER_TAB_ANSWER_WAIT_MS`).
   */
  pageLock?: TabLock
  /** Which page is open; defaults to the hash route. */
  openPage?: () => Page
  /** How long a toast stays, in ms (counted again from the start after a pause), on the host's timers (fake ones apply). */
  ttlMs?: number
  /** The timers toasts and waits run on; default the host's. */
  timers?: Timers
}

/**
 * How long after its request failed unanswered a change is still awaited as the user's own while the socket stays
 * connected: had the server made it, its event went out on that socket before the answer would have, long before this.
 */
export const OWN_CHANGE_WAIT_MS = 60_000

/**
 * How long a change another tab told of is awaited as the user's own before its answer, told by that tab, comes: the
 * longest that tab waits for it (a request, a token refresh on its 401 behind a third tab's, the request again). A tab
 * that crashed or was discarded says nothing (no `pagehide`); its change is then awaited as one whose answer was lost,
 * not for ever.
 */
export const OTHER_TAB_ANSWER_WAIT_MS = 2 * REQUEST_TIMEOUT_MS + REFRESH_LOCK_WAIT_MS + REFRESH_TIMEOUT_MS

/** Whether the socket is connected and caught up: an event sent now reaches this store live. */
const liveIn = (state: unknown) => {
  const connection = (state as { socket?: { connection?: { status: string; syncing: boolean } } }).socket?.connection
  return connection?.status === 'connected' && !connection.syncing
}

type News = Pick<Toast, 'page' | 'message' | 'person'>

/** How many toasts show at once (but while the user is in the region): a newer one takes the oldest's place. */
const MOST_TOASTS = 4

/** The store's state as RTK Query's selectors read it (the api slice). */
type ApiState = Parameters<ReturnType<typeof api.endpoints.getLessons.select>>[0]

// Made once: each `select()` is a memoized selector of its own.
const cachedLessons = api.endpoints.getLessons.select()
const cachedContactRequests = api.endpoints.getContactRequests.select()

const holds = (list: readonly { id: Id }[] | undefined, id: Id) => list?.some((item) => item.id === id) ?? false

/** Whether `list` holds `item` as of its `updatedAt` or later. */
const holdsAsOf = (list: readonly { id: Id; updatedAt: string }[] | undefined, item: { id: Id; updatedAt: string }) =>
  list?.some((x) => x.id === item.id && Date.parse(x.updatedAt) >= Date.parse(item.updatedAt)) ?? false

/**
 * Whether only `me`'s side may have set the status `item` has now: then the change is theirs, made in this tab or
 * another one or on another device, whichever page they are on. A cancellation either side may make is told apart
 * only in the browser that asked for it, in each of its tabs (`createToaster`, its `channel`).
 */
function setByMe<S extends string>(
  table: TransitionTable<S>,
  item: { tutorId: Id; studentId: Id; status: S },
  me: User,
): boolean {
  const side: Role | null = item.tutorId === me.id ? 'tutor' : item.studentId === me.id ? 'student' : null
  const who = settersOf(table, item.status)
  return side !== null && who.length === 1 && who[0] === side
}

/** What one server event is as news. */
interface EventNews<E extends ServerEventName> {
  /** What it tells `me` as a toast, or `null`: something I did myself (my own booking, my confirmation) is no news to me. */
  toast: (payload: ServerEventPayload<E>, me: User) => News | null
  /**
   * Only for an event that brings a new card: whether its list as cached (what the pages read, argument `undefined`)
   * holds it already, and then it is no news (a replay on a resume, or the list's read came first). Such news is
   * also said when its page is open, where a card appears with nothing that says it arrived; a status change is not
   * (its card says it, `useStatusSaid`, and saying it here too would say it twice).
   */
  listed?: (payload: ServerEventPayload<E>, state: ApiState) => boolean
  /**
   * Only for a status change: whether its list as cached holds this version or a later one (read while its page was
   * open, whose card said it): a replay on a resume after that read is old news, and one older than the card is untrue.
   */
  shown?: (payload: ServerEventPayload<E>, state: ApiState) => boolean
  /**
   * Only for a status change: whether its page draws no card for it (its list is being read, or its read failed, or
   * its list holds no such card: its created event was missed, and the event rereads the list). The change is then said
   * here when that page is open, since no card is there to say it; the card drawn later shows it as it is, saying
   * nothing.
   */
  undrawn?: (payload: ServerEventPayload<E>, state: ApiState) => boolean
}

/**
 * Each server event as news, or `null` for one that never is: keyed by the event map, so a new server event does not
 * compile until it says.
 */
export const TOAST_NEWS: { [E in ServerEventName]: EventNews<E> | null } = {
  'message:new': null,
  'message:sent': null,
  'conversation:read': null,
  'conversation:seen': null,
  'lesson:created': {
    toast: (lesson, me) =>
      lesson.studentId === me.id
        ? null
        : {
            page: 'lessons',
            message: { id: 'toast.lessonRequested', values: { subject: lesson.subject } },
            person: lesson.studentId,
          },
    listed: ({ id }, state) => holds(cachedLessons(state).data, id),
  },
  'lesson:statusUpdated': {
    toast: (lesson, me) =>
      setByMe(LESSON_TRANSITIONS, lesson, me)
        ? null
        : {
            page: 'lessons',
            message: { id: 'toast.lessonStatus', values: { subject: lesson.subject, status: lesson.status } },
            person: lesson.tutorId === me.id ? lesson.studentId : lesson.tutorId,
          },
    shown: (lesson, state) => holdsAsOf(cachedLessons(state).data, lesson),
    undrawn: ({ id }, state) => !holds(cachedLessons(state).data, id),
  },
  'contactRequest:created': {
    toast: (request, me) =>
      request.studentId === me.id
        ? null
        : { page: 'contactRequests', message: { id: 'toast.contactRequested' }, person: request.studentId },
    listed: ({ id }, state) => holds(cachedContactRequests(state).data, id),
  },
  'contactRequest:statusUpdated': {
    toast: (request, me) =>
      setByMe(CONTACT_REQUEST_TRANSITIONS, request, me)
        ? null
        : {
            page: 'contactRequests',
            message: { id: 'requests.statusSaid', values: { status: request.status } },
            person: request.tutorId === me.id ? request.studentId : request.tutorId,
          },
    shown: (request, state) => holdsAsOf(cachedContactRequests(state).data, request),
    undrawn: ({ id }, state) => !holds(cachedContactRequests(state).data, id),
  },
}

/** The status changes a user asks for here, and the server event that tells of each once made. */
const STATUS_CHANGES = [
  { endpoint: api.endpoints.updateLessonStatus, event: 'lesson:statusUpdated' },
  { endpoint: api.endpoints.updateContactRequestStatus, event: 'contactRequest:statusUpdated' },
] as const

/** The entry of `action`'s server event, if it is one that is news. */
const newsOf = (action: UnknownAction) => {
  const event = serverEventOfType.get(action.type)
  return (event === undefined ? null : TOAST_NEWS[event]) as EventNews<ServerEventName> | null
}

/**
 * Whether the card a created event brings is in its cached list already, in `state` (the store's, before the event):
 * then it is no news, neither said nor a toast. A list not cached holds nothing: the event is news.
 *
 * @example alreadyListed(serverEventActions['lesson:created'](l1), store.getState()) // true once the lessons list holds l1
 */
export function alreadyListed(action: UnknownAction, state: unknown): boolean {
  return newsOf(action)?.listed?.(action.payload as never, state as ApiState) ?? false
}

/** Whether what `action` tells is in its cached list already, in `state`: a card listed, or a status as new or newer. */
function alreadyShown(action: UnknownAction, state: unknown): boolean {
  return alreadyListed(action, state) || (newsOf(action)?.shown?.(action.payload as never, state as ApiState) ?? false)
}

/**
 * What a toast says for an incoming server event (`TOAST_NEWS`), or `null` when there is nothing to tell `me`. A
 * message id, not text: the toast is worded in the language chosen when it shows.
 *
 * @example toastNews(serverEventActions['lesson:created'](lesson), tutor)
 * // { page: 'lessons', message: { id: 'toast.lessonRequested', values: { subject: 'Algebra' } }, person: 'u-alice' }
 */
export function toastNews(action: UnknownAction, me: User | null): News | null {
  const news = newsOf(action)
  return me && news ? news.toast(action.payload as never, me) : null
}

/** The window's `pagehide`, where there is a window. */
function windowPageHide(listener: () => void): () => void {
  if (typeof window === 'undefined') return () => {}
  window.addEventListener('pagehide', listener)
  return () => window.removeEventListener('pagehide', listener)
}

/** A status change's action as the user's other tabs take it (serializable): only what `noteAsked` reads. */
interface PostedChange {
  type: string
  payload: { status: unknown; originalStatus?: unknown }
  meta: { requestStatus: string; arg: { type: string; endpointName: string; originalArgs: unknown } }
}

/**
 * Whether a status change's failure says the server did not make it: a 4xx, answered before anything was written, a
 * proxy's page in place of JSON too (`answeredStatus`). A 5xx is no such word (the commit's answer lost on the way from
 * the database, a gateway's timeout): the change may have been made, and its event is then the user's own, as after no
 * answer at all. Nor is a 2xx whose body was unreadable: it was made.
 */
const notMade = (payload: unknown) => {
  const status = answeredStatus(payload)
  return status !== null && status >= 400 && status < 500
}

/** A change asked for and never answered in a tab that went (closed, or crashed): as if its answer was lost. */
const asUnanswered = (action: PostedChange): PostedChange => ({
  ...action,
  type: action.type.replace(/\/pending$/, '/rejected'),
  payload: { status: undefined },
  meta: { ...action.meta, requestStatus: 'rejected' },
})

/** The page lock each toaster holds (`ToasterOptions.pageLock`), after its `tabId`. */
const toastTabLock = (tabId: string) => `talemy.toasts.page.${tabId}`

/**
 * Toasts for lessons and contact requests that arrive while another page is open. They are short-lived view state,
 * so they live here rather than in Redux: the socket actions that cause them are already in DevTools.
 */
export function createToaster({
  openPage = () => currentRoute().page,
  ttlMs = 8000,
  timers = hostTimers,
  channel,
  pageHide = windowPageHide,
  pageLock,
}: ToasterOptions = {}): Toaster {
  const shown = createViewState<readonly Toast[]>([])
  let nextId = 1
  let paused = false
  /** The toasts shown when the user came into the region: none of them goes from under them while they are there. */
  let pinned = new Set<number>()
  /**
   * What stays of `toasts` beside a newer one: the newest three; while paused, every pinned toast and the newest three
   * of those that came since (never more than twice the usual number, however long the pointer rests there).
   */
  const keptFor = (toasts: readonly Toast[]): readonly Toast[] => {
    if (!paused) return toasts.slice(1 - MOST_TOASTS)
    const since = toasts.filter((t) => !pinned.has(t.id))
    const dropped = since.length >= MOST_TOASTS ? since[0]!.id : null
    return toasts.filter((t) => t.id !== dropped)
  }
  /** The running timer of each toast shown, none while paused. */
  const running = new Map<number, TimerHandle>()

  const stop = (id: number) => {
    if (running.has(id)) timers.clearTimeout(running.get(id))
    running.delete(id)
  }
  const start = (id: number) => {
    stop(id)
    if (paused) return
    const handle = timers.setTimeout(() => dismiss(id), ttlMs)
    running.set(id, handle)
  }
  /** Shows `next`, and stops the timers of the toasts it no longer holds. */
  const show = (next: readonly Toast[]) => {
    shown.set(next)
    for (const id of running.keys()) if (!next.some((t) => t.id === id)) stop(id)
  }

  function dismiss(id: number) {
    const toasts = shown.get()
    if (toasts.some((t) => t.id === id)) show(toasts.filter((t) => t.id !== id))
  }

  const saidListeners = new Set<(message: Message, person?: Id) => void>()

  const userOf = (state: unknown) => (state as { auth?: { user: User | null } }).auth?.user ?? null

  /**
   * The status each change asked for in this tab (or, told through `channel`, in another tab of the user's) is to
   * bring, by event and card (`lesson:statusUpdated l1`), until its event comes: that event is the user's own doing,
   * even once they have left the page (its answer and the event race, and either may come after). Kept when the
   * request got no answer (it may have been made); gone when refused.
   */
  const asked = new Map<string, string>()
  /**
   * The changes in `asked` whose request got no answer, by key: `handshakeSince` once a handshake began after the
   * failure. Its `sync:caughtUp` (or `sync:gap`) ends their wait: a change made has its event replayed before it (a gap
   * refetches the card instead), so the same change coming later, hours on, is the other person's, news. With the
   * socket connected all along, `OWN_CHANGE_WAIT_MS` ends it.
   */
  const unanswered = new Map<string, { handshakeSince: boolean; timer: TimerHandle }>()
  /** The changes in `asked` told by another tab, whose answer it has not told yet, by key: `OTHER_TAB_ANSWER_WAIT_MS`. */
  const answerWaits = new Map<string, TimerHandle>()
  const forget = (key: string) => {
    timers.clearTimeout(unanswered.get(key)?.timer)
    unanswered.delete(key)
    timers.clearTimeout(answerWaits.get(key))
    answerWaits.delete(key)
  }
  const awaitUnanswered = (key: string, getState: () => unknown) => {
    const timer = timers.setTimeout(() => {
      const wait = unanswered.get(key)
      if (!wait || wait.timer !== timer || wait.handshakeSince || !liveIn(getState())) return
      unanswered.delete(key)
      asked.delete(key)
    }, OWN_CHANGE_WAIT_MS)
    unanswered.set(key, { handshakeSince: false, timer })
  }
  /** Another tab's change, with no answer told by the time that tab would have had one: as one whose answer was lost. */
  const awaitAnswer = (key: string, getState: () => unknown) => {
    const timer = timers.setTimeout(() => {
      if (answerWaits.get(key) !== timer) return
      answerWaits.delete(key)
      if (asked.has(key)) awaitUnanswered(key, getState)
    }, OTHER_TAB_ANSWER_WAIT_MS)
    answerWaits.set(key, timer)
  }
  /**
   * The events taken for the user's own (`asked`) before their request's answer came, by the same key: a refusal then
   * says the change was the other person's (made first, which is why theirs was refused), news after all.
   */
  const heard = new Map<string, UnknownAction>()
  /**
   * Notes a status change asked for here (or in another tab, `fromOtherTab`), or its answer; answers the event a refusal
   * shows was not the user's.
   */
  const noteAsked = (
    action: UnknownAction,
    getState: () => unknown,
    fromOtherTab = false,
  ): UnknownAction | undefined => {
    for (const { endpoint, event } of STATUS_CHANGES) {
      const pending = endpoint.matchPending(action)
      const rejected = endpoint.matchRejected(action)
      if (!pending && !rejected && !endpoint.matchFulfilled(action)) continue
      const { id, status } = action.meta.arg.originalArgs
      const key = `${event} ${id}`
      const took = heard.get(key)
      heard.delete(key)
      forget(key)
      if (pending) {
        asked.set(key, status)
        if (fromOtherTab) awaitAnswer(key, getState)
      } else if (rejected && notMade(action.payload)) {
        if (asked.get(key) === status) asked.delete(key)
        else if ((took?.payload as { status?: unknown } | undefined)?.status === status) return took
      } else if (rejected && asked.get(key) === status) awaitUnanswered(key, getState)
    }
    return undefined
  }
  /** Ends the wait of the unanswered changes once a handshake begun after their failure has caught up. */
  const noteSync = (action: UnknownAction) => {
    if (connected.match(action)) for (const wait of unanswered.values()) wait.handshakeSince = true
    else if (syncCaughtUp.match(action) || syncGap.match(action))
      for (const [key, wait] of unanswered)
        if (wait.handshakeSince) {
          forget(key)
          asked.delete(key)
        }
  }
  /** Whether `action` is the event of a change asked for here (and then it is no longer awaited). */
  const askedHere = (action: UnknownAction) => {
    const event = serverEventOfType.get(action.type)
    if (!STATUS_CHANGES.some((c) => c.event === event)) return false
    const { id, status } = action.payload as { id: Id; status: string }
    const key = `${event} ${id}`
    if (asked.get(key) !== status) return false
    asked.delete(key)
    forget(key)
    heard.set(key, action)
    return true
  }

  /**
   * Raises `told` as news for `me` (a toast, or said when its page is open: a new card, or a status change while the
   * page draws no card to say it), unless it is none. `state` is the store's after the event: a card its list held
   * before it is there still, and says it.
   */
  const tell = (told: UnknownAction, me: User | null, state: unknown) => {
    const news = toastNews(told, me)
    if (news && openPage() !== news.page) {
      const toast: Toast = { id: nextId++, ...news }
      show([...keptFor(shown.get()), toast])
      start(toast.id)
    } else if (news && (newsOf(told)?.listed || newsOf(told)?.undrawn?.(told.payload as never, state as ApiState))) {
      for (const listener of saidListeners) listener(news.message, news.person)
    }
  }

  /** The status changes asked for here (and their answers), as the user's other tabs take them (serializable). */
  const isStatusChange = (action: UnknownAction) =>
    STATUS_CHANGES.some(
      ({ endpoint }) =>
        endpoint.matchPending(action) || endpoint.matchFulfilled(action) || endpoint.matchRejected(action),
    )
  let unsubscribe: (() => void) | undefined
  /**
   * The changes asked for here and told to the other tabs that have no answer yet, by request: told as unanswered when
   * this tab goes with them (`pageHide`), with the user who asked.
   */
  const inFlight = new Map<string, { userId: Id; action: PostedChange }>()
  let stopPageHide: (() => void) | undefined
  /** This tab's name on `channel`: what the others tell it alone (`to`) is for it. */
  const tabId = nanoid()
  // Held until the page goes: the browser frees it then, crashed or not.
  if (channel && pageLock) pageLock.request(toastTabLock(tabId), { steal: false }, { onAcquired() {}, onLost() {} })
  /**
   * The changes the other tabs told of with no answer yet, by tab (`from`) and request (the endpoint and card), while
   * that tab's page lock is watched: freed, they are taken as unanswered.
   */
  const othersInFlight = new Map<string, Map<string, { userId: Id; action: PostedChange }>>()
  const watchInFlight = (from: string, getState: () => unknown) => {
    if (!pageLock?.watch || othersInFlight.has(from)) return
    const changes = new Map<string, { userId: Id; action: PostedChange }>()
    othersInFlight.set(from, changes)
    pageLock.watch(toastTabLock(from), {
      onFree() {
        if (othersInFlight.get(from) !== changes) return
        othersInFlight.delete(from)
        const me = userOf(getState())
        for (const { userId, action } of changes.values())
          if (userId === me?.id) noteAsked(asUnanswered(action) as unknown as UnknownAction, getState, true)
      },
      // It holds no lock (not yet, or another build's tab): awaited as long as it could wait, and watched again at its
      // next word.
      onUnheld() {
        if (othersInFlight.get(from) === changes) othersInFlight.delete(from)
      },
    })
  }

  const middleware: Middleware = (store) => {
    // Another tab's change of the same user's is theirs here too: its event is no news, its refusal may be.
    unsubscribe?.()
    stopPageHide?.()
    stopPageHide = channel
      ? pageHide(() => {
          // Their answers will never come here, nor be told: as a request whose answer was lost, each may have been
          // made, and its event is awaited as the user's own only as long as one unanswered here is.
          for (const { userId, action } of inFlight.values())
            channel.post({ userId, action: asUnanswered(action), from: tabId })
          inFlight.clear()
        })
      : undefined
    unsubscribe = channel?.subscribe((message) => {
      const { userId, action, to, inFlightOf, from } = (message ?? {}) as {
        userId?: unknown
        action?: UnknownAction
        to?: unknown
        inFlightOf?: unknown
        from?: unknown
      }
      if (typeof inFlightOf === 'string') {
        // A tab just opened: told before it was there, it learns the changes that wait for their answer here.
        for (const change of inFlight.values()) channel.post({ ...change, to: inFlightOf, from: tabId })
        return
      }
      const me = userOf(store.getState())
      if (to !== undefined && to !== tabId) return
      if (!me || userId !== me.id || typeof action?.type !== 'string' || !isStatusChange(action)) return
      if (typeof from === 'string') {
        watchInFlight(from, store.getState)
        const change = action as unknown as PostedChange
        const request = `${change.meta.arg.endpointName} ${(change.meta.arg.originalArgs as { id?: unknown }).id}`
        if (change.meta.requestStatus === 'pending')
          othersInFlight.get(from)?.set(request, { userId: me.id, action: change })
        else othersInFlight.get(from)?.delete(request)
      }
      const told = noteAsked(action, store.getState, true)
      if (told) tell(told, me, store.getState())
    })
    channel?.post({ inFlightOf: tabId })
    return (next) => (action) => {
      const stateBefore = store.getState()
      const before = userOf(stateBefore)
      // Asked of the state before the event: once its cache work is done, every new card is listed.
      const known = alreadyShown(action as UnknownAction, stateBefore)
      const own = askedHere(action as UnknownAction)
      // Told once the refusal comes, as it would have been then.
      const told = noteAsked(action as UnknownAction, store.getState) ?? (action as UnknownAction)
      noteSync(action as UnknownAction)
      const result = next(action)
      const me = userOf(store.getState())
      if (me?.id !== before?.id) {
        // Another user (or nobody) now: what was said to the one before is theirs, and goes with them, as do their
        // changes.
        if (shown.get().length > 0) show([])
        asked.clear()
        heard.clear()
        for (const key of [...unanswered.keys(), ...answerWaits.keys()]) forget(key)
      }
      // Answered: no longer waiting, whoever is logged in now (told to a tab opening, it would stand for one for good).
      if (isStatusChange(action as UnknownAction)) {
        const { requestStatus, requestId } = (
          action as UnknownAction & { meta: { requestStatus: string; requestId: string } }
        ).meta
        if (requestStatus !== 'pending') inFlight.delete(requestId)
      }
      if (channel && me && isStatusChange(action as UnknownAction)) {
        const { type, payload, meta } = action as UnknownAction & { meta?: unknown }
        // Only what `noteAsked` reads: the request's arguments and, refused, the answer's status (`originalStatus`, a
        // page that was no JSON: `notMade`).
        const { requestStatus, requestId, arg } = meta as {
          requestStatus: string
          requestId: string
          arg: { endpointName: string; originalArgs: unknown; type: string }
        }
        const { status, originalStatus } = (payload ?? {}) as { status?: unknown; originalStatus?: unknown }
        const posted: PostedChange = {
          type,
          payload: { status, originalStatus },
          meta: {
            requestStatus,
            arg: { type: arg.type, endpointName: arg.endpointName, originalArgs: arg.originalArgs },
          },
        }
        channel.post({ userId: me.id, action: posted, from: tabId })
        if (requestStatus === 'pending') inFlight.set(requestId, { userId: me.id, action: posted })
      }
      if (!known && !own) tell(told, me, store.getState())
      return result
    }
  }

  return {
    middleware,
    subscribe: shown.subscribe,
    getSnapshot: shown.get,
    dismiss,
    subscribeSaid(listener) {
      saidListeners.add(listener)
      return () => saidListeners.delete(listener)
    },
    pause(next) {
      if (next === paused) return
      paused = next
      pinned = new Set(paused ? shown.get().map((t) => t.id) : [])
      if (!paused && shown.get().length > MOST_TOASTS) show(shown.get().slice(-MOST_TOASTS))
      for (const { id } of shown.get()) (paused ? stop : start)(id)
    },
  }
}
