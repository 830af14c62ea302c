// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { saveRefreshToken, tokenRefreshed } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { selectConnection } from '../../src/realtime'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'
import { alice } from '../unit/support/fixtures'

// Once the session is over (the token refused, its refresh refused too: the header offers "Log in again"), a read
// made again is refused the same way: every request goes with the token that ended. A failed read still offered
// "Try again", which could only fail again, whatever it had failed with first.

const refused = () => json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
const down = () => json(500, { error: { code: 'INTERNAL', message: 'down' } })

const page = pagePerTest('#/lessons')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const WORDS = {
  en: { over: 'Your session has ended. Log in again.', tryAgain: 'Try again', logInAgain: 'Log in again' },
  fr: { over: 'Votre session a pris fin. Reconnectez-vous.', tryAgain: 'Réessayer', logInAgain: 'Se reconnecter' },
} as const

const buttons = (scope: string) => [...page.container.querySelectorAll(`${scope} button`)].map((b) => b.textContent)
const alertWords = () => [...page.container.querySelectorAll('main [role=alert]')].map((a) => a.textContent?.trim())

/**
 * Alice's app, drawn, whose lessons read fails: once `over()`, refused as for an ended session (so are her refresh and
 * every request but the other reads), before that as a server that is down.
 */
function appWithLessonsFailing(over: () => boolean) {
  const storage = createMemoryStorage()
  saveRefreshToken(storage, alice.id, 'refresh-old')
  const app = appStore(
    apiRoutes((method, path) => {
      if (over()) return method === 'GET' && path !== '/api/lessons' ? json(200, []) : refused()
      return path === '/api/lessons' ? down() : json(200, [])
    }),
    { storage, preloadedState: { auth: { token: 'old', user: alice } } },
  )
  renderApp(page.root, app.store)
  return app
}

describe('a read failed once the session is over', () => {
  test.each([
    { locale: 'en', how: 'refused for the session' },
    { locale: 'fr', how: 'refused for the session' },
    { locale: 'en', how: 'failed before the session ended' },
    { locale: 'fr', how: 'failed before the session ended' },
  ] as const)('($locale, $how) says to log in again, and offers no "Try again"', async ({ locale, how }) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const words = WORDS[locale]
    let sessionOver = how === 'refused for the session'
    const { store, sockets } = appWithLessonsFailing(() => sessionOver)
    await eventually(() => expect(store.getState().api.queries['getLessons(undefined)']?.status).toBe('rejected'))
    if (!sessionOver) {
      expect(buttons('main')).toContain(words.tryAgain)
      sessionOver = true
      // The socket's handshake refused, and its refresh: the session is over.
      act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    }
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    await eventually(() => expect(buttons('header')).toContain(words.logInAgain))

    expect(buttons('main')).not.toContain(words.tryAgain)
    expect(alertWords()).toContain(words.over)
    store.dispose()
  })
})

describe('a read failed while the session was over', () => {
  test('offers "Try again" once the session is back (another tab’s login of the same user)', async () => {
    let sessionOver = true
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-old')
    const { store } = appStore(
      apiRoutes((method, path) => {
        if (path === '/api/lessons') return sessionOver ? refused() : down()
        return method === 'GET' ? json(200, []) : refused()
      }),
      { storage, preloadedState: { auth: { token: 'old', user: alice } } },
    )
    renderApp(page.root, store)
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    await eventually(() => expect(alertWords()).toContain(WORDS.en.over))
    sessionOver = false
    act(() => void store.dispatch(tokenRefreshed({ token: 'new' })))
    await eventually(() => expect(buttons('main')).toContain(WORDS.en.tryAgain))
    store.dispose()
  })
})

describe('"Try again" focused when the session ends', () => {
  test('hands focus to the header’s "Log in again", the one thing left that can help', async () => {
    let sessionOver = false
    const { store, sockets } = appWithLessonsFailing(() => sessionOver)
    const button = (scope: string, name: string) =>
      [...page.container.querySelectorAll<HTMLButtonElement>(`${scope} button`)].find((b) => b.textContent === name)
    await eventually(() => expect(button('main', WORDS.en.tryAgain)).toBeDefined())
    act(() => button('main', WORDS.en.tryAgain)!.focus())
    sessionOver = true
    act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    await eventually(() => expect(button('header', WORDS.en.logInAgain)).toBeDefined())
    expect(button('main', WORDS.en.tryAgain)).toBeUndefined()
    expect(document.activeElement).toBe(button('header', WORDS.en.logInAgain))
    store.dispose()
  })
})
