import { createContext, useContext, useSyncExternalStore } from 'react'
import { hrefFor } from '../../app/router'
import { useMessageText, useT } from '../../i18n'
import type { Toaster } from './toaster'

export const ToasterContext = createContext<Toaster | null>(null)

const noToasts = [] as const
const noop = () => () => {}

/** The toast region: a polite live region, so screen readers hear a new toast without losing focus. */
export function Toasts() {
  const t = useT()
  const text = useMessageText()
  const toaster = useContext(ToasterContext)
  const toasts = useSyncExternalStore(toaster?.subscribe ?? noop, toaster?.getSnapshot ?? (() => noToasts))
  return (
    // A named section is a region landmark.
    <section className="toasts" aria-label={t('toasts.region')} aria-live="polite">
      {toasts.map((toast) => (
        <div className="toast" key={toast.id} data-testid="toast">
          <a
            href={hrefFor(toast.page === 'lessons' ? { page: 'lessons' } : { page: 'contactRequests' })}
            onClick={() => toaster?.dismiss(toast.id)}
          >
            {text(toast.message)}
          </a>
          <button
            type="button"
            className="toast-close"
            aria-label={t('toasts.dismiss')}
            onClick={() => toaster?.dismiss(toast.id)}
          >
            ×
          </button>
        </div>
      ))}
    </section>
  )
}
