import { createContext, useContext, useEffect, useLayoutEffect, useRef, useSyncExternalStore } from 'react'
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
  const region = useRef<HTMLElement>(null)
  /** The toast the keyboard is in, if any. */
  const focused = useRef<number | null>(null)
  // Where the keyboard is: a toast taken away with focus inside moves it nowhere (no focusin), so the id stays.
  useEffect(() => {
    const onFocusIn = (event: FocusEvent) => {
      const toast = event.target instanceof Element ? event.target.closest('[data-toast-id]') : null
      focused.current = toast ? Number(toast.getAttribute('data-toast-id')) : null
    }
    document.addEventListener('focusin', onFocusIn)
    return () => document.removeEventListener('focusin', onFocusIn)
  }, [])
  useLayoutEffect(() => {
    const id = focused.current
    if (id === null || toasts.some((toast) => toast.id === id)) return
    focused.current = null
    // The toast that had focus went (dismissed, or its time ran out): the keyboard goes on at the next toast, else at
    // the page's content, not at the start of the document.
    if (document.activeElement !== null && document.activeElement !== document.body) return
    ;(region.current?.querySelector<HTMLElement>('.toast a') ?? document.getElementById('main'))?.focus()
  }, [toasts])
  return (
    // A named section is a region landmark.
    <section className="toasts" aria-label={t('toasts.region')} aria-live="polite" ref={region}>
      {toasts.map((toast) => (
        <div className="toast" key={toast.id} data-testid="toast" data-toast-id={toast.id}>
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
