import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type RefObject,
} from 'react'
import { useAnnounce } from '../../app/Announcer'
import { hrefFor } from '../../app/router'
import { FormattedMessage } from 'react-intl'
import type { Id } from '../../contract'
import { useT, type Message } from '../../i18n'
import { usePeople, type People } from '../shared/people'
import type { Toast, Toaster } from './toaster'

export const ToasterContext = createContext<Toaster | null>(null)

const noToasts = [] as const
const noop = () => () => {}

/** The values people wrote (a lesson's subject, a name): they keep their own direction inside our sentence. */
const WRITTEN = new Set(['subject', 'name'])

/**
 * A message's values with the name of the person it is about (`Toast.person`), as the page knows them now and as a
 * sentence names them ("New contact request from someone").
 */
function valuesOf(message: Message, person: Id | undefined, people: People): Message['values'] {
  return person === undefined ? message.values : { ...message.values, name: people.nameInSentence(person) }
}
function isolated(values: Message['values']): Record<string, ReactNode> | undefined {
  if (!values) return undefined
  const shown: Record<string, ReactNode> = { ...values }
  for (const key of WRITTEN) if (key in values) shown[key] = <bdi>{values[key]}</bdi>
  return shown
}

/** How far up the toast region is lifted (`.toasts` in styles.css): the space a control at the screen's foot takes. */
const CLEARANCE = '--toasts-clearance'
/** How far the toasts reach up from the screen's foot (`.main`), and from the control they sit above (a thread's list). */
const COVER = '--toasts-cover'
const OVER = '--toasts-over'

/**
 * Keeps the toasts above `ref`'s element while it is on the page: a control at the foot of the screen (the composer
 * of the conversation being written in), which the region, in the bottom corner, would otherwise cover, the text being
 * typed and its Send button with it (a click on Send then lands on a toast's link, and the pointer resting there pauses
 * the toasts, so they stay). Measured again whenever the element or the window changes size, or
 * anything scrolls (a short window scrolls the header away, and the composer up).
 *
 * @example const formRef = useRef<HTMLFormElement>(null); useToastsAbove(formRef); <form ref={formRef}>…</form>
 */
export function useToastsAbove(ref: RefObject<HTMLElement | null>): void {
  useLayoutEffect(() => {
    const el = ref.current
    if (!el) return
    const root = document.documentElement
    let said = ''
    // Each scroll of anything measures (below): the root's style is written only when the clearance changed.
    const measure = () => {
      const below = `${Math.max(0, Math.ceil(window.innerHeight - el.getBoundingClientRect().top))}px`
      if (below === said) return
      said = below
      root.style.setProperty(CLEARANCE, below)
    }
    measure()
    const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(measure) : null
    observer?.observe(el)
    window.addEventListener('resize', measure)
    // In a short window the app scrolls, header and all (styles.css): the composer moves up the screen with it.
    document.addEventListener('scroll', measure, { capture: true, passive: true })
    return () => {
      observer?.disconnect()
      window.removeEventListener('resize', measure)
      document.removeEventListener('scroll', measure, { capture: true })
      root.style.removeProperty(CLEARANCE)
    }
  }, [ref])
}

/**
 * The toast region: each new toast is said once, politely, through the announcer, so screen readers hear it without
 * losing focus. The region is no live region itself: it holds each close button, named by its toast ("Dismiss: …"),
 * and was read twice. While keyboard focus is in it or the pointer over it, the toaster is paused: no toast goes
 * before the user has left it.
 */
export function Toasts() {
  const t = useT()
  const toaster = useContext(ToasterContext)
  const toasts = useSyncExternalStore(toaster?.subscribe ?? noop, toaster?.getSnapshot ?? (() => noToasts))
  const region = useRef<HTMLElement>(null)
  const announce = useAnnounce()
  const people = usePeople()
  // News for the page that is open is no toast (its card is right there), but is said, in the language of the moment,
  // and as a toast is: once the people are read.
  const [unsaid, setUnsaid] = useState<readonly { message: Message; person?: Id }[]>([])
  useEffect(
    () => toaster?.subscribeSaid((message, person) => setUnsaid((waiting) => [...waiting, { message, person }])),
    [toaster],
  )
  useEffect(() => {
    if (people.loading || unsaid.length === 0) return
    for (const { message, person } of unsaid) announce(t(message.id, valuesOf(message, person, people)))
    setUnsaid([])
  }, [unsaid, announce, t, people])
  /** The toasts shown that have been said: each is said once, whatever the language or names do afterwards. */
  const said = useRef(new Set<number>())
  /** The toasts shown while the people were being read: said once they are, even those gone by then (their 8 s ran out). */
  const waiting = useRef(new Map<number, Toast>())
  useEffect(() => {
    for (const toast of toasts) if (!said.current.has(toast.id)) waiting.current.set(toast.id, toast)
    if (people.loading) return
    for (const id of said.current) if (!toasts.some((toast) => toast.id === id)) said.current.delete(id)
    const toSay = [...waiting.current.values()].sort((a, b) => a.id - b.id)
    waiting.current.clear()
    for (const toast of toSay) {
      if (toasts.some((shown) => shown.id === toast.id)) said.current.add(toast.id)
      announce(t(toast.message.id, valuesOf(toast.message, toast.person, people)))
    }
  }, [toasts, announce, t, people])
  /** Dismissed by the user (its link or its close button, which read it out): not said later, once the people come. */
  const dismiss = (id: number) => {
    waiting.current.delete(id)
    toaster?.dismiss(id)
  }
  /** The toast the keyboard is in, if any. */
  const focused = useRef<number | null>(null)
  /** Whether keyboard focus is in the region, and the pointer over it: while either is, no toast's time runs out. */
  const inside = useRef({ focus: false, pointer: false })
  const stay = useCallback(
    (where: 'focus' | 'pointer', yes: boolean) => {
      inside.current[where] = yes
      toaster?.pause(inside.current.focus || inside.current.pointer)
    },
    [toaster],
  )
  // Where the keyboard is: a toast taken away with focus inside moves it nowhere (no focusin), so the id stays, and so
  // does the pause until focus lands elsewhere (next toast, or the page's content).
  useEffect(() => {
    const onFocusIn = (event: FocusEvent) => {
      const target = event.target instanceof Element ? event.target : null
      const toast = target?.closest('[data-toast-id]')
      focused.current = toast ? Number(toast.getAttribute('data-toast-id')) : null
      stay('focus', target !== null && region.current?.contains(target) === true)
    }
    document.addEventListener('focusin', onFocusIn)
    return () => {
      document.removeEventListener('focusin', onFocusIn)
      // Gone (a logout): toasts shown after this are not held by a region nobody is in.
      inside.current = { focus: false, pointer: false }
      toaster?.pause(false)
    }
  }, [stay, toaster])
  // The controls the toasts float over stay reachable to the eye: a control tabbed to behind them counted as in view,
  // and stayed hidden (WCAG 2.4.11). The scrolling regions keep their foot's strip under the toasts out of the view
  // focus is scrolled into (`scroll-padding-bottom` in styles.css), following the region's height.
  useLayoutEffect(() => {
    const el = region.current
    if (!el) return
    const root = document.documentElement
    const measure = () => {
      const height = el.getBoundingClientRect().height
      if (height > 0) {
        root.style.setProperty(OVER, `calc(${Math.ceil(height)}px + 1rem)`)
        root.style.setProperty(COVER, `calc(${Math.ceil(height)}px + 1rem + var(${CLEARANCE}, 0px))`)
      } else {
        root.style.removeProperty(OVER)
        root.style.removeProperty(COVER)
      }
    }
    measure()
    const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(measure) : null
    observer?.observe(el)
    return () => {
      observer?.disconnect()
      root.style.removeProperty(OVER)
      root.style.removeProperty(COVER)
    }
  }, [])
  useLayoutEffect(() => {
    // No toast left: nothing under the pointer either (an empty region has no size, and may get no mouseleave).
    if (toasts.length === 0) stay('pointer', false)
    const id = focused.current
    if (id === null || toasts.some((toast) => toast.id === id)) return
    focused.current = null
    // The toast that had focus went (dismissed, or its time ran out): the keyboard goes on at the next toast, else at
    // the page's content, not at the start of the document.
    if (document.activeElement !== null && document.activeElement !== document.body) return
    ;(region.current?.querySelector<HTMLElement>('.toast a') ?? document.getElementById('main'))?.focus()
  }, [toasts, stay])
  return (
    // A named section is a region landmark: only while it holds a toast, or the landmarks list offers an empty one. It
    // is no live region (the announcer says the news), so it need not be one beforehand.
    <section
      className="toasts"
      aria-label={toasts.length > 0 ? t('toasts.region') : undefined}
      ref={region}
      onMouseEnter={() => stay('pointer', true)}
      onMouseLeave={() => stay('pointer', false)}
      // Focus gone from the page (another window, a click on nothing): no focusin follows.
      onBlur={(event) => {
        if (!(event.relatedTarget instanceof Node && event.currentTarget.contains(event.relatedTarget))) {
          stay('focus', false)
        }
      }}
    >
      {toasts.map((toast) => {
        const values = valuesOf(toast.message, toast.person, people)
        return (
          <div className="toast" key={toast.id} data-testid="toast" data-toast-id={toast.id}>
            <a
              href={hrefFor(toast.page === 'lessons' ? { page: 'lessons' } : { page: 'contactRequests' })}
              onClick={() => dismiss(toast.id)}
            >
              <FormattedMessage id={toast.message.id} values={isolated(values)} />
            </a>
            <button
              type="button"
              className="toast-close"
              aria-label={t('toasts.dismiss', { toast: t(toast.message.id, values) })}
              onClick={() => dismiss(toast.id)}
            >
              ×
            </button>
          </div>
        )
      })}
    </section>
  )
}
