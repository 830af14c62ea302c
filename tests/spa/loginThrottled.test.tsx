// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// Failed logins are throttled per email for up to 15 minutes (the server's `retryAfterMs`). The login page said "Too
// many requests; wait a moment and try again": a user who waited a moment was refused again, told the same, and never
// how long the wait was. It says the wait, in minutes, in the chosen language.

const page = pagePerTest()
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

/** A login the server refuses for its rate, asking to wait `retryAfterMs`. */
const throttled = (retryAfterMs: number) =>
  apiRoutes((_method, path) =>
    path === '/api/auth/login'
      ? json(429, { error: { code: 'RATE_LIMITED', message: 'too many failed logins', retryAfterMs } })
      : json(200, []),
  )

async function logInRefused(retryAfterMs: number, email: string, password: string): Promise<string> {
  const { store } = appStore(throttled(retryAfterMs), { preloadedState: { auth: { token: null, user: null } } })
  renderApp(page.root, store)
  type(fieldLabelled(page.container, email) as HTMLInputElement, 'alice@talemy.test')
  type(fieldLabelled(page.container, password) as HTMLInputElement, 'wrong')
  act(() => page.container.querySelector('form')!.requestSubmit())
  const said = await eventually(() => {
    const alert = page.container.querySelector('[role=alert]')?.textContent
    expect(alert).toBeTruthy()
    return alert!
  })
  store.dispose()
  return said
}

describe('a login refused for too many failed attempts', () => {
  test('says how long to wait before trying again', async () => {
    expect(await logInRefused(14 * 60_000 + 5_000, 'Email', 'Password')).toBe(
      'Too many failed attempts. Try again in 15 minutes.',
    )
  })

  test('in French too, with its plural', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    expect(await logInRefused(20_000, 'E-mail', 'Mot de passe')).toBe(
      'Trop de tentatives échouées. Réessayez dans 1 minute.',
    )
  })
})
