import { rmSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { AUTH_STORAGE_KEY, refreshSession, tokenSessionId } from '../../src/api'
import { loggedOut } from '../../src/app/authSlice'
import { syncSession } from '../../src/app/sessionSync'
import { createMemoryStorage } from '../../src/app/store'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir, http } from '../server/support/server'
import { browserStore, type BrowserStore } from './support'

// A tab the browser froze in the background (or that was simply busy) hears another tab's storage events late, all
// at once: "logged out", then "logged in again". Storage then already holds the user's new session. Following the old
// logout must end only the session this tab had, never the new one the other tab has just started.

let server: RunningServer
let dir: string
const open: BrowserStore[] = []
const stops: (() => void)[] = []

beforeAll(async () => {
  dir = freshDataDir()
  server = await startServer({ port: 0, dataDir: dir, rateLimit: { perSecond: 1000, burst: 1000 } })
})
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
  for (const s of open.splice(0)) s.close()
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The page's side of a storage event: only `key` and `newValue` are read. */
function storageEvent(key: string, newValue: string | null): Event {
  return Object.assign(new Event('storage'), { key, newValue })
}

/**
 * Tabs A and B of Alice, both connected, sharing one storage; B's storage events are delivered only when the test says
 * (as to a frozen tab when it thaws), and its logouts' requests are collected to be awaited.
 */
async function twoTabsOfAlice() {
  const storage = createMemoryStorage()
  const logouts: Promise<unknown>[] = []
  const countingLogouts: typeof fetch = (input, init) => {
    const answer = fetch(input, init)
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.endsWith('/api/auth/logout')) logouts.push(answer.catch(() => undefined))
    return answer
  }
  const a = browserStore(server.url, { storage })
  const b = browserStore(server.url, { storage, fetchFn: countingLogouts })
  open.push(a, b)
  const bWindow = new EventTarget()
  stops.push(syncSession(b.store, storage, bWindow as unknown as Window))

  await a.login('alice@talemy.test')
  bWindow.dispatchEvent(storageEvent(AUTH_STORAGE_KEY, storage.getItem(AUTH_STORAGE_KEY)))
  await a.until(() => a.status() === 'connected' && b.status() === 'connected')
  return { storage, logouts, a, b, bWindow }
}

/** Tab A: "Log out", then Alice logs in again there; the new session's token and stored auth. */
async function logoutAndLoginAgain(a: BrowserStore, storage: ReturnType<typeof createMemoryStorage>) {
  a.store.dispatch(loggedOut())
  await a.until(() => a.status() === 'idle')
  await a.login('alice@talemy.test')
  await a.until(() => a.status() === 'connected')
  return { newToken: a.store.getState().auth.token!, newAuth: storage.getItem(AUTH_STORAGE_KEY) }
}

/**
 * Tab B thaws: the logout, then the login, as its storage events. The new session must be alive on the server and
 * still stored for every tab, with its refresh token, and B must follow into it.
 */
async function thawAndCheck(
  { storage, logouts, a, b, bWindow }: Awaited<ReturnType<typeof twoTabsOfAlice>>,
  { newToken, newAuth }: Awaited<ReturnType<typeof logoutAndLoginAgain>>,
) {
  bWindow.dispatchEvent(storageEvent(AUTH_STORAGE_KEY, null))
  bWindow.dispatchEvent(storageEvent(AUTH_STORAGE_KEY, newAuth))
  await Promise.all(logouts)

  expect((await http(server.url, 'GET', '/api/me', { token: newToken })).status).toBe(200)
  expect(storage.getItem(AUTH_STORAGE_KEY)).toBe(newAuth)
  expect(a.store.getState().auth.token).toBe(newToken)
  expect(await a.store.dispatch(refreshSession())).toBe('refreshed')
  await b.until(() => tokenSessionId(b.store.getState().auth.token) === tokenSessionId(newToken))
  await b.until(() => b.status() === 'connected')
}

test('a logout heard late, after a login of the same user elsewhere, leaves that new session alive', async () => {
  const tabs = await twoTabsOfAlice()
  // Tab B hears none of it yet.
  const newSession = await logoutAndLoginAgain(tabs.a, tabs.storage)

  await thawAndCheck(tabs, newSession)
})

test('nor when the late tab refreshes first: it takes nothing of the new session for its own (its token, its refresh token)', async () => {
  const tabs = await twoTabsOfAlice()
  const { b } = tabs
  const oldSession = tokenSessionId(b.store.getState().auth.token)
  const newSession = await logoutAndLoginAgain(tabs.a, tabs.storage)

  // Tab B thaws, and its refresh timer runs before the storage events it missed.
  await b.store.dispatch(refreshSession())
  expect(tokenSessionId(b.store.getState().auth.token)).toBe(oldSession)
  await thawAndCheck(tabs, newSession)
})
