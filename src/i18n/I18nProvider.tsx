import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
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
/** The page's `localStorage`, or undefined where there is none or the browser refuses it (blocked: access throws). */
const browserStorage = (): Storage | undefined => {
  try {
    return typeof window === 'undefined' ? undefined : window.localStorage
  } catch {
    return undefined
  }
}

/**
 * The language of the whole SPA: the stored choice, else the browser's preference (`navigator.languages`), else
 * English. Sets `<html lang>` to match, remembers a change in `localStorage`, and follows a change made in another tab.
 *
 * @example <I18nProvider><App /></I18nProvider>
 */
export function I18nProvider({ children, timeZone = systemTimeZone() }: { children: ReactNode; timeZone?: string }) {
  const [locale, setLocaleState] = useState<Locale>(() =>
    pickLocale({ stored: readStoredLocale(browserStorage()), languages: browserLanguages() }),
  )
  const setLocale = useCallback((next: Locale) => {
    storeLocale(browserStorage(), next)
    setLocaleState(next)
  }, [])
  useEffect(() => {
    document.documentElement.lang = locale
  }, [locale])
  // The choice is the browser's, not the tab's: a change stored by another tab of this browser is taken up here too
  // (the `storage` event reaches only the other tabs), as a reload would.
  useEffect(() => {
    const follow = (event: StorageEvent) => {
      if (event.key === LOCALE_STORAGE_KEY && isLocale(event.newValue)) setLocaleState(event.newValue)
    }
    window.addEventListener('storage', follow)
    return () => window.removeEventListener('storage', follow)
  }, [])

  const day = useDayTurns(timeZone)
  const tag = useMemo(() => formattingLocale(locale, browserLanguages()), [locale])
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
