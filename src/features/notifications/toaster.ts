import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import type { User } from '../../contract'
import type { Message } from '../../i18n'
import { currentRoute, type Page } from '../../app/router'
import { serverEventActions } from '../../realtime'

export interface Toast {
  id: number
  /** The page the toast points to; a toast is only raised when another page is open. */
  page: Exclude<Page, 'messages'>
  message: Message
}

export interface Toaster {
  /** Give it to `makeStore({ extraMiddleware: [toaster.middleware] })`: it sees every action. */
  middleware: Middleware
  subscribe(listener: () => void): () => void
  getSnapshot(): readonly Toast[]
  dismiss(id: number): void
}

interface ToasterOptions {
  /** Which page is open; defaults to the hash route. */
  openPage?: () => Page
  /** How long a toast stays, in ms. */
  ttlMs?: number
}

const lessonCreated = serverEventActions['lesson:created']
const lessonUpdated = serverEventActions['lesson:statusUpdated']
const requestCreated = serverEventActions['contactRequest:created']
const requestUpdated = serverEventActions['contactRequest:statusUpdated']

/**
 * What a toast says for an incoming lesson or contact request, or `null` when there is nothing to tell `me`:
 * something I created myself (a student's own booking or request) is no news to me. A message id, not text: the toast
 * is worded in the language chosen when it shows.
 *
 * @example toastNews(serverEventActions['lesson:created'](lesson), tutor)
 * // { page: 'lessons', message: { id: 'toast.lessonRequested', values: { subject: 'Algebra' } } }
 */
export function toastNews(action: UnknownAction, me: User | null): Pick<Toast, 'page' | 'message'> | null {
  if (!me) return null
  if (lessonCreated.match(action)) {
    return action.payload.studentId === me.id
      ? null
      : { page: 'lessons', message: { id: 'toast.lessonRequested', values: { subject: action.payload.subject } } }
  }
  if (lessonUpdated.match(action)) {
    const { subject, status } = action.payload
    return { page: 'lessons', message: { id: 'toast.lessonStatus', values: { subject, status } } }
  }
  if (requestCreated.match(action)) {
    return action.payload.studentId === me.id
      ? null
      : { page: 'contactRequests', message: { id: 'toast.contactRequested' } }
  }
  if (requestUpdated.match(action)) {
    return {
      page: 'contactRequests',
      message: { id: 'toast.contactRequestStatus', values: { status: action.payload.status } },
    }
  }
  return null
}

/**
 * Toasts for lessons and contact requests that arrive while another page is open. They are short-lived view state,
 * so they live here rather than in Redux: the socket actions that cause them are already in DevTools.
 */
export function createToaster({ openPage = () => currentRoute().page, ttlMs = 8000 }: ToasterOptions = {}): Toaster {
  let toasts: readonly Toast[] = []
  let nextId = 1
  const listeners = new Set<() => void>()
  const emit = () => listeners.forEach((l) => l())

  const dismiss = (id: number) => {
    if (!toasts.some((t) => t.id === id)) return
    toasts = toasts.filter((t) => t.id !== id)
    emit()
  }

  const userOf = (state: unknown) => (state as { auth?: { user: User | null } }).auth?.user ?? null

  const middleware: Middleware = (api) => (next) => (action) => {
    const before = userOf(api.getState())
    const result = next(action)
    const me = userOf(api.getState())
    // Another user (or nobody) now: what was said to the one before is theirs, and goes with them.
    if (me?.id !== before?.id && toasts.length > 0) {
      toasts = []
      emit()
    }
    const news = toastNews(action as UnknownAction, me)
    if (news && openPage() !== news.page) {
      const toast: Toast = { id: nextId++, ...news }
      toasts = [...toasts.slice(-3), toast]
      emit()
      setTimeout(() => dismiss(toast.id), ttlMs)
    }
    return result
  }

  return {
    middleware,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    getSnapshot: () => toasts,
    dismiss,
  }
}
