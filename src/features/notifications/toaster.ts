import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import type { Lesson, User } from '../../contract'
import { currentRoute, type Page } from '../../app/router'
import { serverEventActions } from '../../realtime'

export interface Toast {
  id: number
  /** The page the toast points to; a toast is only raised when another page is open. */
  page: Exclude<Page, 'messages'>
  text: string
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

const LESSON_VERB: Record<Lesson['status'], string> = {
  pending: 'is pending',
  confirmed: 'was confirmed',
  cancelled: 'was cancelled',
  completed: 'was completed',
}

/**
 * The text of a toast for an incoming lesson or contact request, or `null` when there is nothing to tell `me`:
 * something I created myself (a student's own booking or request) is no news to me.
 *
 * @example toastText(serverEventActions['lesson:created'](lesson), tutor) // { page: 'lessons', text: 'New lesson request: Algebra' }
 */
export function toastText(action: UnknownAction, me: User | null): { page: Toast['page']; text: string } | null {
  if (!me) return null
  if (lessonCreated.match(action)) {
    return action.payload.studentId === me.id ? null : { page: 'lessons', text: `New lesson request: ${action.payload.subject}` }
  }
  if (lessonUpdated.match(action)) {
    return { page: 'lessons', text: `Lesson “${action.payload.subject}” ${LESSON_VERB[action.payload.status]}` }
  }
  if (requestCreated.match(action)) {
    return action.payload.studentId === me.id ? null : { page: 'contactRequests', text: 'New contact request' }
  }
  if (requestUpdated.match(action)) {
    return { page: 'contactRequests', text: `Contact request ${action.payload.status}` }
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

  const middleware: Middleware = (api) => (next) => (action) => {
    const result = next(action)
    const me = (api.getState() as { auth?: { user: User | null } }).auth?.user ?? null
    const news = toastText(action as UnknownAction, me)
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
