import type { Middleware } from '@reduxjs/toolkit'
import type { ContactRequest, Lesson, User } from '../../contract'
import { currentRoute, type Page } from '../../app/router'

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

type Incoming =
  | { type: 'socket/lesson:created' | 'socket/lesson:statusUpdated'; payload: Lesson }
  | { type: 'socket/contactRequest:created' | 'socket/contactRequest:statusUpdated'; payload: ContactRequest }

const WATCHED = new Set<string>([
  'socket/lesson:created',
  'socket/lesson:statusUpdated',
  'socket/contactRequest:created',
  'socket/contactRequest:statusUpdated',
])

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
 * @example toastText({ type: 'socket/lesson:created', payload: lesson }, tutor) // 'New lesson request: Algebra'
 */
export function toastText(action: Incoming, me: User | null): string | null {
  if (!me) return null
  switch (action.type) {
    case 'socket/lesson:created':
      return action.payload.studentId === me.id ? null : `New lesson request: ${action.payload.subject}`
    case 'socket/lesson:statusUpdated':
      return `Lesson “${action.payload.subject}” ${LESSON_VERB[action.payload.status]}`
    case 'socket/contactRequest:created':
      return action.payload.studentId === me.id ? null : 'New contact request'
    case 'socket/contactRequest:statusUpdated':
      return `Contact request ${action.payload.status}`
  }
}

/**
 * Toasts for lessons and contact requests that arrive while another page is open. They are short-lived view state,
 * so they live here rather than in Redux: the socket actions that cause them are already in DevTools.
 */
export function createToaster({ openPage = () => currentRoute().page, ttlMs = 6000 }: ToasterOptions = {}): Toaster {
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
    if (isIncoming(action)) {
      const page = action.type.startsWith('socket/lesson:') ? 'lessons' : 'contactRequests'
      const me = (api.getState() as { auth?: { user: User | null } }).auth?.user ?? null
      const text = toastText(action, me)
      if (text && openPage() !== page) {
        const toast: Toast = { id: nextId++, page, text }
        toasts = [...toasts.slice(-3), toast]
        emit()
        setTimeout(() => dismiss(toast.id), ttlMs)
      }
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

function isIncoming(action: unknown): action is Incoming {
  return (
    typeof action === 'object' &&
    action !== null &&
    WATCHED.has((action as { type?: unknown }).type as string) &&
    typeof (action as { payload?: unknown }).payload === 'object'
  )
}
