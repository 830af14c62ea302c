import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
} from 'react'
import { IntlProvider, useIntl } from 'react-intl'
import { catalogues } from './catalogues'
import { atWallClock, createDateFormatters, msUntilNextDay, systemTimeZone, type DateFormatters } from './dates'
import type { MessageId } from './en'
import {
  formattingLocale,
  isLocale,
  LOCALE_STORAGE_KEY,
  pickLocale,
  readStoredLocale,
  storeLocale,
  type Locale,
} from './locale'

interface LocaleState {
  locale: Locale
  setLocale(locale: Locale): void
  dates: DateFormatters
  /** Changes when the day turns, so that what said "today" (a bare time, "last seen today") redraws by itself. */
  day: number
}

const LocaleContext = createContext<LocaleState | null>(null)

const browserLanguages = (): readonly string[] =>
  typeof navigator === 'undefined' ? [] : navigator.languages?.length ? navigator.languages : [navigator.language]

function subscribeToLanguages(onChange: () => void): () => void {
  window.addEventListener('languagechange', onChange)
  return () => window.removeEventListener('languagechange', onChange)
}

// One string: useSyncExternalStore needs an equal value from each read while nothing changed, and a browser may give
// a fresh array at each read (an endless redraw).
const languagesKey = () => browserLanguages().join(',')

/** The browser's preferred languages, followed as the user changes them in its settings (`languagechange`). */
function useBrowserLanguages(): readonly string[] {
  const key = useSyncExternalStore(subscribeToLanguages, languagesKey)
  return useMemo(() => (key === '' ? [] : key.split(',')), [key])
}

/** The page's `localStorage`, or undefined where there is none or the browser refuses it (blocked: access throws). */
const browserStorage = (): Storage | undefined => {
  try {
    return typeof window === 'undefined' ? undefined : window.localStorage
  } catch {
    return undefined
  }
}

/**
 * The language of the whole SPA: the stored choice, else the browser's preference (`navigator.languages`, followed
 * live as the user changes it), else English. Sets `<html lang>` to match, remembers a change in `localStorage`, and
 * follows a change made in another tab.
 * Dates are in `timeZone` (tests pin one), else in the system's, followed as it changes.
 *
 * @example <I18nProvider><App /></I18nProvider>
 */
export function I18nProvider({ children, timeZone: fixedZone }: { children: ReactNode; timeZone?: string }) {
  const systemZone = useSystemTimeZone()
  const timeZone = fixedZone ?? systemZone
  const languages = useBrowserLanguages()
  // The user's own choice, or null while there is none: then the browser's preference decides, as it changes.
  const [chosen, setChosen] = useState<Locale | null>(() => {
    const stored = readStoredLocale(browserStorage())
    return isLocale(stored) ? stored : null
  })
  const locale = chosen ?? pickLocale({ stored: null, languages })
  const setLocale = useCallback((next: Locale) => {
    storeLocale(browserStorage(), next)
    setChosen(next)
  }, [])
  useEffect(() => {
    document.documentElement.lang = locale
  }, [locale])
  // The choice is the browser's, not the tab's: a change stored by another tab of this browser is taken up here too
  // (the `storage` event reaches only the other tabs), as a reload would.
  useEffect(() => {
    const follow = (event: StorageEvent) => {
      if (event.key === LOCALE_STORAGE_KEY && isLocale(event.newValue)) setChosen(event.newValue)
    }
    window.addEventListener('storage', follow)
    return () => window.removeEventListener('storage', follow)
  }, [])

  const day = useDayTurns(timeZone)
  const tag = useMemo(() => formattingLocale(locale, languages), [locale, languages])
  const value = useMemo(
    () => ({ locale, setLocale, dates: createDateFormatters(tag, timeZone), day }),
    [locale, setLocale, tag, timeZone, day],
  )
  return (
    <LocaleContext value={value}>
      <IntlProvider locale={tag} defaultLocale="en" messages={catalogues[locale]} timeZone={timeZone}>
        {children}
      </IntlProvider>
    </LocaleContext>
  )
}

/** How often the system's time zone is looked at besides when the page comes back to the user. */
const ZONE_CHECK_MS = 60_000

/**
 * Follows the system's time zone (`systemTimeZone`) while the page is open: a laptop carried to another zone, or set
 * to one, changes it under the page, and `new Date` (the booking form's reading of its date field) follows at once. No
 * event says so: it is read again when the page gets focus or is shown again, and every minute besides.
 */
function subscribeToZone(onChange: () => void): () => void {
  window.addEventListener('focus', onChange)
  document.addEventListener('visibilitychange', onChange)
  const timer = setInterval(onChange, ZONE_CHECK_MS)
  return () => {
    window.removeEventListener('focus', onChange)
    document.removeEventListener('visibilitychange', onChange)
    clearInterval(timer)
  }
}

function useSystemTimeZone(): string {
  return useSyncExternalStore(subscribeToZone, systemTimeZone)
}

/**
 * Counts the days that turned in `timeZone` while the page was open: it changes at each midnight there, by the wall
 * clock (a page woken after midnight redraws within a minute).
 */
function useDayTurns(timeZone: string): number {
  const [turns, setTurns] = useState(0)
  useEffect(() => {
    let cancel = () => {}
    const untilDayEnds = () => {
      cancel = atWallClock(Date.now() + msUntilNextDay(new Date(), timeZone), () => {
        setTurns((n) => n + 1)
        untilDayEnds()
      })
    }
    untilDayEnds()
    return () => cancel()
  }, [timeZone])
  return turns
}

function useLocaleState(): LocaleState {
  const state = useContext(LocaleContext)
  if (!state) throw new Error('useLocale, useDates and useT need an <I18nProvider> above')
  return state
}

/** The chosen language and the way to change it (the header's switch). */
export function useLocale(): Pick<LocaleState, 'locale' | 'setLocale'> {
  const { locale, setLocale } = useLocaleState()
  return { locale, setLocale }
}

/** Date and time formatters in the chosen language and the user's time zone. */
export function useDates(): DateFormatters {
  return useLocaleState().dates
}

export type Translate = (id: MessageId, values?: Record<string, string | number>) => string

/**
 * The text of a message in the chosen language.
 *
 * @example const t = useT(); t('count.unreadMessages', { count: 3 }) // "3 unread messages"
 */
export function useT(): Translate {
  const intl = useIntl()
  return useCallback<Translate>((id, values) => intl.formatMessage({ id }, values), [intl])
}
