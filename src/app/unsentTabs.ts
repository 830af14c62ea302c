import { nanoid, type Middleware } from '@reduxjs/toolkit'
import type { Id } from '../contract'
import {
  internalError,
  outboxSaved,
  selectPendingMessages,
  shutdown,
  type SocketRootState,
  type TabChannel,
  type TabMessage,
  type WatchTab,
} from '../realtime'
import type { AuthState } from './authSlice'

/**
 * The unsent sends that the user's tabs hold in their memory alone, told between them: a "Log out" in one tab ends
 * every tab's session and drops their sends, and storage (what `countUnsent` reads) holds none of these.
 */
export interface UnsentInTabs {
  /** Give it to the store: it tells the other tabs of this one's unsent sends while storage refuses them. */
  middleware: Middleware
  /** The `clientId`s of `userId`'s sends that the other tabs hold while storage refuses them. */
  heldElsewhere(userId: Id): ReadonlySet<string>
  /** Says this tab holds nothing any more and stops listening (before the channel closes). */
  close(): void
}

type Held = { userId: Id; clientIds: string[] }

/** How many tabs found gone a tab keeps (see `gone`). */
const GONE_KEPT = 16

/** What `unsentInTabs` needs beside the channel. */
export interface UnsentTabsOptions {
  /** This tab's id on the channel: the one its page lock is named after (`TabsOptions.tabId`). Default a random one. */
  tabId?: string
  /**
   * Watches another tab's page lock (`tabPageWatch`): a tab that crashed (no `pagehide`, so no `[]` from it) is
   * forgotten once the browser frees its lock, its memory and the sends it held gone with it. Without it, such a tab
   * stays counted until this one reloads.
   */
  watchTab?: WatchTab
}

const sameHeld = (a: Held | null, b: Held | null): boolean =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.userId === b.userId &&
    a.clientIds.length === b.clientIds.length &&
    a.clientIds.every((id, i) => id === b.clientIds[i]))

/**
 * Tells the user's other tabs, over the tabs' channel, which unsent sends this one holds from the layer's report that
 * storage refused the outbox (`socket/internalError`, `where: 'outboxStorage'`) until storage takes it again
 * (`socket/outboxSaved`), the outbox is empty, or the store shuts down; and hears theirs, forgetting a tab whose page
 * lock is freed (it crashed).
 *
 * @example unsentInTabs(tabs.channel, { tabId, watchTab: tabPageWatch(tabs) }).heldElsewhere(user.id).size
 */
export function unsentInTabs(
  channel: TabChannel,
  { tabId = nanoid(), watchTab }: UnsentTabsOptions = {},
): UnsentInTabs {
  const others = new Map<string, Held>()
  /** The tabs in `others` whose page lock is watched, and how to stop each. */
  const watched = new Map<string, () => void>()
  /**
   * Tabs whose page lock was freed (gone: tab ids are one per page load), the last `GONE_KEPT`: a word a crashed tab
   * posted just before may come after the lock's news (another task source), and must not count it again for good.
   */
  const gone = new Set<string>()
  /** Storage refused this tab's outbox, and has not taken it since. */
  let refused = false
  /** What this tab last told (null: nothing held). */
  let told: Held | null = null
  /** What the last look was made of: most actions change none of it, and cost a comparison. */
  let seen: { outbox: unknown; userId: Id | null; refused: boolean } = { outbox: null, userId: null, refused: false }
  let closed = false

  const post = (message: TabMessage) => {
    if (!closed) channel.post(message)
  }

  function say(next: Held | null) {
    if (sameHeld(next, told)) return
    const before = told
    told = next
    if (next) post({ kind: 'unsaved', from: tabId, ...next })
    else if (before) post({ kind: 'unsaved', from: tabId, userId: before.userId, clientIds: [] })
  }

  function forget(tab: string) {
    others.delete(tab)
    watched.get(tab)?.()
    watched.delete(tab)
  }

  function watch(tab: string) {
    if (!watchTab || watched.has(tab)) return
    let stop: (() => void) | null = null
    const entry = () => stop?.()
    watched.set(tab, entry)
    stop = watchTab(tab, {
      onFree() {
        if (watched.get(tab) !== entry) return
        forget(tab)
        gone.add(tab)
        for (const oldest of gone) if (gone.size > GONE_KEPT) gone.delete(oldest)
      },
      // It holds no page lock yet (just opened) or none at all (another build): kept (a logout it would survive is
      // worse than a question too many), and watched again at its next word.
      onUnheld() {
        if (watched.get(tab) === entry) watched.delete(tab)
      },
    })
  }

  const unsubscribe = channel.subscribe((message) => {
    if (message.from === tabId || gone.has(message.from)) return
    if (message.kind === 'unsaved') {
      if (message.clientIds.length > 0) {
        others.set(message.from, { userId: message.userId, clientIds: message.clientIds })
        watch(message.from)
      } else forget(message.from)
    } else if (message.kind === 'unsavedAsk' && told) post({ kind: 'unsaved', from: tabId, ...told })
  })
  post({ kind: 'unsavedAsk', from: tabId })

  const middleware: Middleware = (api) => (next) => (action) => {
    const result = next(action)
    const type = (action as { type?: unknown }).type
    if (type === internalError.type && internalError.match(action) && action.payload.where === 'outboxStorage')
      refused = true
    else if (type === outboxSaved.type) refused = false
    else if (type === shutdown.type) {
      // The page is going (or the store is disposed): what it held goes with it.
      refused = false
      say(null)
      return result
    }
    if (!refused && told === null) return result
    const state = api.getState() as SocketRootState & { auth: AuthState }
    const { outbox } = state.socket
    const userId = state.auth.user?.id ?? null
    if (outbox === seen.outbox && userId === seen.userId && refused === seen.refused) return result
    seen = { outbox, userId, refused }
    const pending = selectPendingMessages(state)
    // Nothing left to lose: the next refusal is reported again (`outboxMirror`'s streak).
    if (pending.length === 0) refused = false
    say(refused && userId !== null ? { userId, clientIds: pending.map((m) => m.clientId) } : null)
    return result
  }

  return {
    middleware,
    heldElsewhere(userId) {
      const ids = new Set<string>()
      for (const held of others.values()) if (held.userId === userId) for (const id of held.clientIds) ids.add(id)
      return ids
    },
    close() {
      say(null)
      closed = true
      unsubscribe()
      for (const tab of [...others.keys()]) forget(tab)
    },
  }
}
