import { createContext, useCallback, useContext, useLayoutEffect, useRef, useState, type ReactNode } from 'react'
import { useLocale } from '../i18n'

export type Politeness = 'polite' | 'assertive'

type Announce = (text: string, politeness?: Politeness) => void

/**
 * How many pieces of news coming at once (new messages in the open thread, conversations whose sends were refused)
 * are still said one by one; more are said as a count, not read out at length before anything else can be heard.
 */
export const SAID_ONE_BY_ONE_AT_MOST = 3

const AnnounceContext = createContext<Announce>(() => {})
const ForgetContext = createContext<() => void>(() => {})

interface Said {
  text: string
  /** A new key per announcement, so the same words said twice are a new node that screen readers read again. */
  key: number
}

/**
 * Two visually hidden live regions, present from the first render (a region created together with its text is not
 * read): `polite` waits for the screen reader to finish (new messages, toasts), `assertive` interrupts (the
 * connection is lost). Components say one short sentence through `useAnnounce()`, so nothing repeats a whole list.
 *
 * Each region holds what was said since it last changed, one node per sentence: two components that speak in the
 * same commit (the open thread's new message and the unread count, two cards changed by one burst) are both heard, and
 * once drawn, the next sentence (in either region) replaces them, so nothing is said again, nor left to be read as
 * still true. Inside an `<I18nProvider>`: a change of language empties them.
 *
 * @example const announce = useAnnounce(); announce('New message from Bob: Hi')
 */
export function AnnouncerProvider({ children }: { children: ReactNode }) {
  const [said, setSaid] = useState<Record<Politeness, readonly Said[]>>({ polite: [], assertive: [] })
  const lastKey = useRef(0)
  // Once drawn, a region's sentences have been heard (keys only grow): what is said from now on replaces them.
  const drawnKey = useRef(0)
  useLayoutEffect(() => {
    drawnKey.current = Math.max(said.polite.at(-1)?.key ?? 0, said.assertive.at(-1)?.key ?? 0)
  }, [said])
  const announce = useCallback<Announce>((text, politeness = 'polite') => {
    const item: Said = { text, key: ++lastKey.current }
    const drawn = drawnKey.current
    // The other region's heard sentences go too: a reader reading on to the end of the page would find them there
    // ("Connection lost" once it is back). Taking nodes out of a live region says nothing.
    const unheard = (list: readonly Said[]) => list.filter((i) => i.key > drawn)
    setSaid((s) => {
      const next = { polite: unheard(s.polite), assertive: unheard(s.assertive) }
      next[politeness] = [...next[politeness], item]
      return next
    })
  }, [])
  const forget = useCallback(() => {
    setSaid((s) => (s.polite.length === 0 && s.assertive.length === 0 ? s : { polite: [], assertive: [] }))
  }, [])
  // The last sentences stay in the regions, for a reader going through the page to its end: after a change of language
  // they were in the language before, in a page whose <html lang> says otherwise. They go, and nothing is said again.
  const { locale } = useLocale()
  const saidInLocale = useRef(locale)
  useLayoutEffect(() => {
    if (saidInLocale.current === locale) return
    saidInLocale.current = locale
    forget()
  }, [locale, forget])
  return (
    <AnnounceContext value={announce}>
      <ForgetContext value={forget}>{children}</ForgetContext>
      <div className="sr-only" role="status" aria-live="polite" data-testid="announcer-polite">
        {said.polite.map((s) => (
          <div key={s.key}>{s.text}</div>
        ))}
      </div>
      <div className="sr-only" role="alert" aria-live="assertive" data-testid="announcer-assertive">
        {said.assertive.map((s) => (
          <div key={s.key}>{s.text}</div>
        ))}
      </div>
    </AnnounceContext>
  )
}

/**
 * Empties both live regions without saying anything: what was said to a user who has left (a message of theirs, their
 * unread count) must not stay in the page for the next one to read.
 *
 * @example const forget = useForgetAnnouncements(); forget()
 */
export function useForgetAnnouncements(): () => void {
  return useContext(ForgetContext)
}

/** Says a sentence to screen-reader users without moving focus. */
export function useAnnounce(): Announce {
  return useContext(AnnounceContext)
}
