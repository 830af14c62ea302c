/**
 * Dates and times in the chosen language and the user's time zone, with the platform's `Intl` (nothing to ship).
 * Pure: the locale tag and the time zone come in, so tests pin both.
 */

/** The browser's (or Node's) time zone, e.g. `Europe/Paris`. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone
}

export interface DateFormatters {
  /** A lesson's start, a request's date: "24 Nov 2026, 09:30" (en-GB), "24 nov. 2026, 09:30" (fr). */
  dateTime(iso: string): string
  /**
   * A message's time: only the time for today (in that time zone), else the day and the time, and the year too when
   * it is not this year's ("24 Nov 2025, 09:30"): a list or a thread that reaches back a year does not read as this one.
   */
  messageTime(iso: string, now?: Date): string
  /** Whether `iso` falls today in that time zone (what `messageTime` shows as a bare time). */
  isToday(iso: string, now?: Date): boolean
  /**
   * The day alone ("20 Jan", "20 janv."; with the year when it is not this one, as `messageTime` does: "20 Jan 2025")
   * and the time alone ("08:00"), for sentences that put words between them ("hors ligne depuis le 20 janv. 2025 à 08:00").
   */
  day(iso: string, now?: Date): string
  time(iso: string): string
}

/**
 * How long until the calendar day turns in `timeZone` (ms, at least 1): what a page open overnight waits for to show
 * "today" as a day. Found by bisection on the zone's own calendar, so half-hour zones and 23- or 25-hour days are right.
 *
 * @example msUntilNextDay(new Date('2026-11-29T23:59:00Z'), 'UTC') // 60000
 */
export function msUntilNextDay(now: Date, timeZone: string = systemTimeZone()): number {
  const calendarDay = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone })
  const today = calendarDay.format(now)
  // No day is longer than 26 hours; `high` is always in another day, `low` always in this one.
  let low = now.getTime()
  let high = low + 26 * 3_600_000
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (calendarDay.format(middle) === today) low = middle
    else high = middle
  }
  return high - now.getTime()
}

/**
 * How often (real time) a wall-clock moment is looked at besides when it is due: timers stand still while the machine
 * sleeps, so a page woken past it would otherwise wait out the rest of its timer, hours later.
 */
const WALL_CLOCK_CHECK_MS = 60_000

/**
 * Calls `fn` once the wall clock (`Date.now()`, which goes on while the machine sleeps) reaches `at`: at once if it has,
 * else when its timer says so, looking every minute besides. Returns what cancels it.
 *
 * @example const cancel = atWallClock(Date.now() + msUntilNextDay(new Date()), () => redraw())
 */
export function atWallClock(at: number, fn: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  const check = () => {
    const left = at - Date.now()
    if (left <= 0) fn()
    else timer = setTimeout(check, Math.min(left, WALL_CLOCK_CHECK_MS))
  }
  check()
  return () => clearTimeout(timer)
}

function valid(iso: string): Date | null {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? null : d
}

/**
 * Formatters for one locale and time zone; build once per language change, not per render.
 *
 * @example createDateFormatters('fr', 'Europe/Paris').dateTime('2026-11-24T08:30:00Z') // "24 nov. 2026, 09:30"
 */
export function createDateFormatters(locale: string, timeZone: string = systemTimeZone()): DateFormatters {
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone })
  const time = new Intl.DateTimeFormat(locale, { timeStyle: 'short', timeZone })
  // The hour written as the locale's short time writes it ("09:30" in French, "9:30 AM" in American English).
  const cycle = time.resolvedOptions().hourCycle
  const hour = cycle === 'h23' || cycle === 'h24' ? '2-digit' : 'numeric'
  const dayAndTime = new Intl.DateTimeFormat(locale, {
    month: 'short',
    day: 'numeric',
    hour,
    minute: '2-digit',
    timeZone,
  })
  const dateAndTime = new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour,
    minute: '2-digit',
    timeZone,
  })
  const day = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone })
  const date = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', timeZone })
  // The calendar day in that zone (YYYY-MM-DD), to tell "today" from "yesterday", and this year from the last, where
  // the user is, not where UTC is.
  const calendarDay = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone })
  const thisYear = (d: Date, now: Date) => calendarDay.format(d).slice(0, 4) === calendarDay.format(now).slice(0, 4)
  return {
    dateTime(iso) {
      const d = valid(iso)
      return d ? dateTime.format(d) : ''
    },
    messageTime(iso, now = new Date()) {
      const d = valid(iso)
      if (!d) return ''
      if (calendarDay.format(d) === calendarDay.format(now)) return time.format(d)
      return thisYear(d, now) ? dayAndTime.format(d) : dateAndTime.format(d)
    },
    isToday(iso, now = new Date()) {
      const d = valid(iso)
      return d !== null && calendarDay.format(d) === calendarDay.format(now)
    },
    day(iso, now = new Date()) {
      const d = valid(iso)
      if (!d) return ''
      return thisYear(d, now) ? day.format(d) : date.format(d)
    },
    time(iso) {
      const d = valid(iso)
      return d ? time.format(d) : ''
    },
  }
}
