import type { Middleware } from '@reduxjs/toolkit'
import {
  internalError,
  outboxKept,
  outboxSaved,
  selectKeptUnsent,
  selectPendingMessages,
  type SocketRootState,
} from '../realtime'
import { loggedIn, loggedOut, type AuthState } from './authSlice'
import { createViewState } from './viewState'

/**
 * Whether this tab holds unsent messages that would not survive the page: the storage refused the outbox (full, or
 * writes refused), or the browser gave the page no storage at all, or a logout nobody asked for left some in the
 * page's memory alone (the layer says how many: `selectKeptUnsent`). View state kept outside Redux (as the toaster's):
 * the layer's reports (`socket/internalError` from `outboxStorage`, `socket/outboxSaved`, `socket/outboxKept`) and the
 * outbox it reads are in DevTools already, and a slice reacting to a `socket/…` action would have to join the store's
 * shortcut (`socketActionBypass.ts`).
 */
export interface UnsavedOutbox {
  /** Give it to the store (`makeStore` puts it last): it looks at the outbox each action leaves. */
  middleware: Middleware
  subscribe(listener: () => void): () => void
  /**
   * 0 when there is nothing to tell; else the number of this spell of unsaved messages (each spell has a new one),
   * once it has lasted the grace period, so that a message sent within it never flashes a notice.
   */
  getSnapshot(): number
  /** True the first time it is asked about `spell`: the one caller that says it (a page opened again does not repeat it). */
  firstToSay(spell: number): boolean
  /** Removes the `beforeunload` listener and the grace timer; nothing changes afterwards. */
  dispose(): void
}

export interface UnsavedOutboxOptions {
  /** `false`: the outbox's storage does not outlive the page (memory, where the browser gave none): nothing is saved. */
  durable: boolean
  /** How long the messages must stay unsent and unsaved before `getSnapshot` tells; 0: at once. */
  noticeAfterMs: number
  /** Where closing the page is asked about first (`beforeunload`) while there are such messages; none in Node. */
  page?: Pick<Window, 'addEventListener' | 'removeEventListener'>
}

/** Browsers show their own question; calling `preventDefault` (and, for older ones, setting `returnValue`) asks it. */
function ask(event: BeforeUnloadEvent) {
  event.preventDefault()
  event.returnValue = true
}

/**
 * The layer reports a refused write once per failing streak, and its end (`socket/outboxSaved`: a write that goes
 * through, at the outbox's next change, stores what was refused too), so the state is kept from the report until that
 * end, or until the outbox is empty: then nothing unsent is left to lose.
 *
 * @example const unsaved = watchUnsavedOutbox({ durable: true, noticeAfterMs: 2000, page: window })
 */
export function watchUnsavedOutbox({ durable, noticeAfterMs, page }: UnsavedOutboxOptions): UnsavedOutbox {
  /** Messages are unsent and the storage refused them (or there is none): closing the page loses them. */
  let unsaved = false
  /**
   * A logout nobody asked for ("Log in again", another tab's login or logout) left unsent messages in this page's
   * memory alone, as the layer says (`outboxKept`), until their user's next login here brings them back into the
   * outbox, or their "Log out" (here, or in another tab) drops them. Not told beside the composer (they are not the
   * outbox shown), but closing the page asks first.
   */
  let keptByLayer = false
  /**
   * Without storage the layer's outbox storage is the page's memory, which holds what such a logout keeps: the users
   * whose unsent messages it kept, until their next login or their "Log out" here.
   */
  const keptInMemory = new Set<string>()
  const askBeforeLeaving = (event: BeforeUnloadEvent) => {
    if (unsaved || keptByLayer || keptInMemory.size > 0) ask(event)
  }
  let listening = false
  /** The listener is there exactly while something unsent would be lost with the page. */
  const listen = () => {
    const next = !disposed && (unsaved || keptByLayer || keptInMemory.size > 0)
    if (next === listening) return
    listening = next
    if (next) page?.addEventListener('beforeunload', askBeforeLeaving)
    else page?.removeEventListener('beforeunload', askBeforeLeaving)
  }
  let spell = 0
  const shown = createViewState(0)
  let said = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  let disposed = false

  const show = (value: number) => {
    shown.set(value)
  }

  const stopTimer = () => {
    if (timer !== null) clearTimeout(timer)
    timer = null
  }

  const set = (next: boolean) => {
    if (next === unsaved) return
    unsaved = next
    if (next) {
      const current = ++spell
      if (noticeAfterMs <= 0) show(current)
      else timer = setTimeout(() => show(current), noticeAfterMs)
    } else {
      stopTimer()
      show(0)
    }
  }

  const middleware: Middleware = (api) => (next) => (action) => {
    const logout = !durable && loggedOut.match(action) ? action : null
    const leaving = logout ? (api.getState() as { auth: AuthState }).auth.user?.id : undefined
    const left = leaving !== undefined ? selectPendingMessages(api.getState() as SocketRootState).length : 0
    const result = next(action)
    if (logout && leaving !== undefined) {
      const keepOutbox = (logout.meta as { keepOutbox?: unknown } | undefined)?.keepOutbox === true
      if (keepOutbox && left > 0) keptInMemory.add(leaving)
      else keptInMemory.delete(leaving)
    }
    // Back in the outbox (told as unsaved again while there is no storage).
    if (!durable && loggedIn.match(action)) keptInMemory.delete(action.payload.user.id)
    if ((action as { type?: unknown }).type === outboxKept.type)
      keptByLayer = selectKeptUnsent(api.getState() as SocketRootState) > 0
    // Most actions (a burst's thousands of server events) cost a string comparison: `.match` (a plain-object check
    // first) and the outbox are only read while they matter.
    const refused =
      (action as { type?: unknown }).type === internalError.type &&
      internalError.match(action) &&
      action.payload.where === 'outboxStorage'
    // Storage took the outbox again: what it refused is saved with what came since.
    const saved = unsaved && durable && (action as { type?: unknown }).type === outboxSaved.type
    if (!disposed && (refused || unsaved || !durable)) {
      const pending = selectPendingMessages(api.getState() as SocketRootState).length > 0
      set(pending && (refused || (unsaved && !saved) || !durable))
    }
    listen()
    return result
  }

  return {
    middleware,
    subscribe: shown.subscribe,
    getSnapshot: shown.get,
    firstToSay(current) {
      if (current === 0 || current <= said) return false
      said = current
      return true
    },
    dispose() {
      disposed = true
      listen()
      stopTimer()
    },
  }
}
