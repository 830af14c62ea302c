// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { formattingLocale, LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// Failed logins are throttled per email for up to 15 minutes (the server's `retryAfterMs`). The login page said "Too
// many requests; wait a moment and try again": a user who waited a moment was refused again, told the same, and never
// how long the wait was. Then it said "Try again in 15 minutes", worked out once: ten minutes later it still said 15,
// and a user back after 20 minutes still read it, though the wait was over. It says the time of day the wait ends (a
// text that stays true, so its alert is said once), in the chosen language, and the message goes when that time comes.

const page = pagePerTest()
afterEach(() => {
  vi.useRealTimers()
  window.localStorage.removeItem(LOCALE_STORAGE_KEY)
})

/** A login the server refuses for its rate, asking to wait `retryAfterMs`. */
const throttled = (retryAfterMs: number) =>
  apiRoutes((_method, path) =>
    path === '/api/auth/login'
      ? json(429, { error: { code: 'RATE_LIMITED', message: 'too many failed logins', retryAfterMs } })
      : json(200, []),
  )

/** The alert the login form shows, or undefined (the announcer's own regions are not it). */
const alertShown = () => page.container.querySelector('form [role=alert]') ?? undefined

/** Moves the (fake) clock and its timers on by `ms`. */
const pass = (ms: number) => act(async () => void (await vi.advanceTimersByTimeAsync(ms)))

/** On a fake clock set to `now` (this machine's time zone), a login refused for its rate, asking to wait `retryAfterMs`. */
async function logInRefused(now: Date, retryAfterMs: number, email: string, password: string) {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  vi.setSystemTime(now)
  const { store } = appStore(throttled(retryAfterMs), { preloadedState: { auth: { token: null, user: null } } })
  renderApp(page.root, store)
  type(fieldLabelled(page.container, email) as HTMLInputElement, 'alice@talemy.test')
  type(fieldLabelled(page.container, password) as HTMLInputElement, 'wrong')
  act(() => page.container.querySelector('form')!.requestSubmit())
  const alert = await eventually(() => {
    const shown = alertShown()
    expect(shown?.textContent).toBeTruthy()
    return shown!
  })
  return { alert, store }
}

/** How the page writes a time of day in `locale` (jsdom's `navigator.languages` pick the regional form). */
const timeOfDay = (locale: 'en' | 'fr', at: Date, options: Intl.DateTimeFormatOptions = { timeStyle: 'short' }) =>
  new Intl.DateTimeFormat(formattingLocale(locale, navigator.languages), options).format(at)

/** Noon of 6 Dec 2026 where this machine is: fifteen minutes on is the same day in every time zone. */
const noon = new Date(2026, 11, 6, 12, 0, 0)

describe('a login refused for too many failed attempts', () => {
  test('says when the wait ends, as a time of day (rounded up to its minute), and says it unchanged as time passes', async () => {
    const { alert, store } = await logInRefused(noon, 14 * 60_000 + 5_000, 'Email', 'Password')
    const said = `Too many failed attempts. You can try again at ${timeOfDay('en', new Date(2026, 11, 6, 12, 15))}.`
    expect(alert.textContent).toBe(said)
    await pass(10 * 60_000)
    // The same node with the same words: still true, and not said again.
    expect(alertShown()).toBe(alert)
    expect(alert.textContent).toBe(said)
    store.dispose()
  })

  test('stays while it runs through a later attempt held back by a field left empty: it is still true', async () => {
    const { alert, store } = await logInRefused(noon, 14 * 60_000 + 5_000, 'Email', 'Password')
    const said = alert.textContent
    const password = fieldLabelled(page.container, 'Password') as HTMLInputElement
    type(password, '')
    act(() => page.container.querySelector('form')!.requestSubmit())
    expect(password.validity.valueMissing).toBe(true)
    expect(alertShown()?.textContent).toBe(said)
    store.dispose()
  })

  test('is gone once that time comes, and the form no longer points at it', async () => {
    const { store } = await logInRefused(noon, 14 * 60_000 + 5_000, 'Email', 'Password')
    await pass(15 * 60_000 - 1_000)
    expect(alertShown()).toBeDefined()
    await pass(1_000)
    expect(alertShown()?.textContent).toBeUndefined()
    expect(page.container.querySelector('form')!.hasAttribute('aria-describedby')).toBe(false)
    store.dispose()
  })

  test('is gone within a minute of waking a machine that slept past that time (its timers stood still)', async () => {
    const { store } = await logInRefused(noon, 14 * 60_000 + 5_000, 'Email', 'Password')
    await pass(60_000)
    vi.setSystemTime(new Date(2026, 11, 6, 12, 40))
    await pass(60_000)
    expect(alertShown()?.textContent).toBeUndefined()
    store.dispose()
  })

  test('in French too', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const { alert, store } = await logInRefused(noon, 14 * 60_000 + 5_000, 'E-mail', 'Mot de passe')
    expect(alert.textContent).toBe(
      `Trop de tentatives échouées. Vous pourrez réessayer à ${timeOfDay('fr', new Date(2026, 11, 6, 12, 15))}.`,
    )
    store.dispose()
  })

  test('names the day when the wait ends on another one', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const { alert, store } = await logInRefused(
      new Date(2026, 11, 6, 23, 55),
      14 * 60_000 + 5_000,
      'E-mail',
      'Mot de passe',
    )
    const end = new Date(2026, 11, 7, 0, 10)
    const day = timeOfDay('fr', end, { month: 'short', day: 'numeric' })
    expect(alert.textContent).toBe(
      `Trop de tentatives échouées. Vous pourrez réessayer le ${day} à ${timeOfDay('fr', end)}.`,
    )
    store.dispose()
  })
})

describe('a login refused for its rate with less than a minute to wait', () => {
  // The server's per-address limit on logins (a school behind one address, all logging in at once) answers the same
  // RATE_LIMITED, with a wait well under a second; so does the failures' throttle in its last seconds. "Too many failed
  // attempts" told a user who typed the right password they had failed, and named a time up to a minute away.
  test('asks to wait a moment, and blames no failed attempts', async () => {
    const { alert, store } = await logInRefused(noon, 400, 'Email', 'Password')
    expect(alert.textContent).toBe('Too many requests; wait a moment and try again.')
    store.dispose()
  })
})
