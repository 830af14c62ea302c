// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { manualRetryTriggers } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// What the pages say of someone's presence depends on this browser's own connection: while it is down, nothing the
// socket said earlier can be trusted (nobody tells it when Bob leaves), so the label says nothing rather than a stale
// "online".

const page = pagePerTest('#/messages')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const EARLIER = '2026-11-20T09:00:00.000Z'
const api = apiRoutes((_method, path) => {
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/users')
    return json(
      200,
      [alice, bob].map((u) => ({ ...u, online: true, lastSeenAt: null })),
    )
  return json(200, [])
})

const label = () => page.container.querySelector<HTMLElement>('[data-testid=presence]')

/** The page with Bob shown online by the socket's snapshot. */
async function bobShownOnline() {
  const app = appStore(api)
  renderApp(page.root, app.store)
  act(() => app.sockets.last.serverConnect())
  act(() =>
    app.sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: true, lastSeenAt: null }] }),
  )
  await eventually(() => expect(label()?.dataset.online).toBe('true'))
  return app
}

test('"online" is not shown while this browser is offline, and comes back from the snapshot after the reconnect', async () => {
  const { store, sockets } = await bobShownOnline()

  // The connection drops: Bob may leave meanwhile, and nobody would tell this browser.
  act(() => sockets.last.serverDrop('transport close'))
  await eventually(() => expect(store.getState().socket.connection.status).not.toBe('connected'))
  expect(label()).toBeNull()

  // Back: the server's snapshot says what happened meanwhile.
  await eventually(() => expect(sockets.last.connectCalls).toBeGreaterThan(0))
  act(() => sockets.last.serverConnect())
  act(() =>
    sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: false, lastSeenAt: EARLIER }] }),
  )
  await eventually(() => expect(label()?.dataset.online).toBe('false'))
  expect(label()!.textContent).toMatch(/last seen/)
  store.dispose()
})

test('after a reconnect, nothing is shown until its snapshot: what was said before the drop may have changed', async () => {
  const { store, sockets } = await bobShownOnline()
  act(() => sockets.last.serverDrop('transport close'))
  await eventually(() => expect(sockets.last.connectCalls).toBeGreaterThan(0))
  // Bob left while this browser was away. Connected again, the server replays what was missed, then tells presence.
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
  // Right then, not after a while: this session's first sync reads /api/users again (the catch-up, 250 ms later), and
  // that answer, landing before the snapshot, is newer than the socket's word and shown (`heardOverHttp`).
  expect(label()).toBeNull()
  act(() =>
    sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: false, lastSeenAt: EARLIER }] }),
  )
  await eventually(() => expect(label()?.dataset.online).toBe('false'))
  store.dispose()
})

test.each([
  ['en', /^last seen Jan 20, 2025 at \d{1,2}:00 [AP]M$/],
  ['fr', /^hors ligne depuis le 20 janv\. 2025 à \d\d:00$/],
] as const)(
  '(%s) "last seen" on a day of an earlier year says the year: "20 Jan" would read as this one',
  async (locale, text) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets } = appStore(api)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const lastYear = '2025-01-20T12:00:00.000Z'
    act(() =>
      sockets.last.serverEmit('presence:snapshot', {
        users: [{ userId: bob.id, online: false, lastSeenAt: lastYear }],
      }),
    )
    await eventually(() => expect(label()?.dataset.online).toBe('false'))
    expect(label()!.textContent!.replace(/\s/g, ' ')).toMatch(text)
    store.dispose()
  },
)

// The laptop slept with the page open: the server dropped the socket meanwhile (and Bob left), and the layer replaces
// it when the tab is shown (its pings stopped long ago by the wall clock). No `disconnect` comes from the old socket,
// which is unbound first: connected again, what it said before the sleep is as stale as after any drop.
test('after a sleep, the replaced socket shows nothing of what was said before it until its own snapshot', async () => {
  const triggers = manualRetryTriggers()
  let clock = Date.parse('2026-11-20T10:00:00.000Z')
  const { store, sockets } = appStore(api, { realtime: { retryTriggers: triggers.setup, now: () => clock } })
  renderApp(page.root, store)
  const slept = sockets.last
  act(() => slept.serverConnect())
  act(() => slept.io.fire('ping'))
  act(() => slept.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: true, lastSeenAt: null }] }))
  await eventually(() => expect(label()?.dataset.online).toBe('true'))

  clock += 10 * 60_000 // asleep: the wall clock moved, the socket's timers did not
  act(() => triggers.fire('visible'))
  await eventually(() => expect(sockets.last).not.toBe(slept))
  expect(label()).toBeNull()

  // The new socket connects and replays what was missed; Bob's going comes with its snapshot, after that.
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
  expect(store.getState().socket.connection.status).toBe('connected')
  expect(label()).toBeNull()
  act(() =>
    sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: false, lastSeenAt: EARLIER }] }),
  )
  await eventually(() => expect(label()?.dataset.online).toBe('false'))
  store.dispose()
})
