// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { saveRefreshToken } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { selectConnection } from '../../src/realtime'
import { eventually } from './support/eventually'
import { bob, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// Once the session is over (its refresh refused: the header offers "Log in again"), an action pressed is refused
// UNAUTHORIZED, and its 401 asked the server for a refresh again with the refresh token it had just refused. Each press
// spent the address's refresh budget, one for every browser behind it (a school's NAT); once that was spent, the
// refresh was answered 429 (an ended session's Bearer pays no user's budget), taken for no answer, and the action said
// "Could not reach the server. Check your connection." beside a header saying the session was over.

const page = pagePerTest('#/lessons')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const WORDS = {
  en: { over: 'Your session has ended. Log in again.', confirm: 'Confirm' },
  fr: { over: 'Votre session a pris fin. Reconnectez-vous.', confirm: 'Confirmer' },
} as const

describe('an action pressed once the session is over, the address’s refresh budget spent', () => {
  test.each(['en', 'fr'] as const)('(%s) says the session has ended, and asks for no refresh again', async (locale) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    let budgetSpent = false
    const refreshes: string[] = []
    const storage = createMemoryStorage()
    saveRefreshToken(storage, bob.id, 'refresh-old')
    const { store, sockets } = appStore(
      apiRoutes((method, path) => {
        if (method === 'GET') return json(200, path === '/api/lessons' ? [lesson('l1')] : [])
        if (path === '/api/auth/refresh') {
          refreshes.push(budgetSpent ? 'spent' : 'refused')
          if (budgetSpent)
            return json(429, { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1000 } })
        }
        return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
      }),
      { storage, preloadedState: { auth: { token: 'old', user: bob } } },
    )
    renderApp(page.root, store)
    // The socket's handshake refused, and its refresh: the session is over.
    act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    expect(refreshes).toEqual(['refused'])
    const confirm = await eventually(() => {
      const button = page.container.querySelector<HTMLButtonElement>('[data-action=confirmed]')
      expect(button?.textContent).toBe(WORDS[locale].confirm)
      return button!
    })

    budgetSpent = true
    act(() => confirm.click())
    await eventually(() => expect(page.container.querySelector('main [role=alert]')).not.toBeNull())
    expect(page.container.querySelector('main [role=alert]')?.textContent).toBe(WORDS[locale].over)
    expect(refreshes).toEqual(['refused'])
    store.dispose()
  })
})
