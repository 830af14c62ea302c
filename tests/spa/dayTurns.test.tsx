// @vitest-environment jsdom
import { act } from 'react'
import { createRoot } from 'react-dom/client'
import { afterEach, expect, test, vi } from 'vitest'
import { I18nProvider, LOCALE_STORAGE_KEY, useDates } from '../../src/i18n'
import { msUntilNextDay } from '../../src/i18n/dates'

// A page left open overnight: what it showed as "today" (a message's bare time, "last seen today at …") must turn into
// a day when the day turns where the user is, without waiting for something else to redraw it.

afterEach(() => {
  vi.useRealTimers()
  localStorage.removeItem(LOCALE_STORAGE_KEY)
})

test.each([
  ['UTC, a minute before midnight', '2026-11-29T23:59:00.000Z', 'UTC', 60_000],
  ['Paris (UTC+1), a minute before its midnight', '2026-11-29T22:59:00.000Z', 'Europe/Paris', 60_000],
  ['Kathmandu (UTC+5:45), at 23:00 there', '2026-11-29T17:15:00.000Z', 'Asia/Kathmandu', 3_600_000],
  // 01:00 on the 25-hour day the clocks go back: 24 hours are left of it, not 23.
  ['Paris on the day of the autumn change', '2026-10-24T23:00:00.000Z', 'Europe/Paris', 24 * 3_600_000],
  ['exactly midnight: the whole next day', '2026-11-30T00:00:00.000Z', 'UTC', 86_400_000],
])('msUntilNextDay, %s', (_, now, timeZone, ms) => {
  expect(msUntilNextDay(new Date(now), timeZone)).toBe(ms)
})

function MessageTime({ iso }: { iso: string }) {
  return <span data-testid="t">{useDates().messageTime(iso)}</span>
}

/** A message's time, `iso`, on a page drawn at `now` (UTC, in English) on fake timers and a fake clock. */
function showTime(now: string, iso: string) {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(new Date(now))
  localStorage.setItem(LOCALE_STORAGE_KEY, 'en')
  const host = document.createElement('div')
  const root = createRoot(host)
  const render = (shown: string) =>
    act(() =>
      root.render(
        <I18nProvider timeZone="UTC">
          <MessageTime iso={shown} />
        </I18nProvider>,
      ),
    )
  render(iso)
  return { root, render, text: () => host.querySelector('[data-testid=t]')!.textContent }
}

test('a time shown bare today gets its day once the day turns, by itself', () => {
  const { root, render, text } = showTime('2026-11-29T23:58:00.000Z', '2026-11-29T23:00:00.000Z')
  expect(text()).not.toMatch(/29/)
  act(() => vi.advanceTimersByTime(60_000))
  expect(text()).not.toMatch(/29/)
  act(() => vi.advanceTimersByTime(60_000))
  expect(text()).toMatch(/29/)
  // And again the next night (the timer is armed anew): a time of the 30th, bare on the 30th, gets its day on the 1st.
  render('2026-11-30T12:00:00.000Z')
  expect(text()).not.toMatch(/30/)
  act(() => vi.advanceTimersByTime(86_400_000))
  expect(text()).toMatch(/30/)
  act(() => root.unmount())
})

// A laptop closed at night: timers do not run while the machine sleeps (the browser's clock for them stands still), but
// the wall clock goes on. Woken the next morning, the page must not wait out the rest of its midnight timer.
test('a page woken from sleep after midnight gets the day right within a minute, not a sleep later', () => {
  const { root, text } = showTime('2026-11-29T22:00:00.000Z', '2026-11-29T21:00:00.000Z')
  expect(text()).not.toMatch(/29/)
  // Asleep from 22:00 to 07:00: the wall clock jumps, no timer runs meanwhile.
  vi.setSystemTime(new Date('2026-11-30T07:00:00.000Z'))
  act(() => vi.advanceTimersByTime(60_000))
  expect(text()).toMatch(/29/)
  act(() => root.unmount())
})
