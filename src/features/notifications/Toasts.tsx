import { createContext, useContext, useSyncExternalStore } from 'react'
import { hrefFor } from '../../app/router'
import type { Toaster } from './toaster'

export const ToasterContext = createContext<Toaster | null>(null)

const noToasts = [] as const
const noop = () => () => {}

/** The toast region: a polite live region, so screen readers hear them without losing focus. */
export function Toasts() {
  const toaster = useContext(ToasterContext)
  const toasts = useSyncExternalStore(
    toaster?.subscribe ?? noop,
    toaster?.getSnapshot ?? (() => noToasts),
  )
  return (
    <div className="toasts" role="region" aria-label="Notifications" aria-live="polite">
      {toasts.map((t) => (
        <div className="toast" key={t.id} data-testid="toast">
          <a href={hrefFor(t.page === 'lessons' ? { page: 'lessons' } : { page: 'contactRequests' })} onClick={() => toaster?.dismiss(t.id)}>
            {t.text}
          </a>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => toaster?.dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  )
}
