// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { eventually } from '../unit/support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { appStore, json, pagePerTest, renderApp } from './support/page'

// What the pages say of someone's presence depends on this browser's own connection: while it is down, nothing the
// socket said earlier can be trusted (nobody tells it when Bob leaves), so the label says nothing rather than a stale
// "online".

const page = pagePerTest('#/messages')

const EARLIER = '2026-11-20T09:00:00.000Z'
const api = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const path = new URL((input instanceof Request ? input : new Request(input, init)).url).pathname
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/users')
    return json(
      200,
      [alice, bob].map((u) => ({ ...u, online: true, lastSeenAt: null })),
    )
  return json(200, [])
}) as typeof fetch

const label = () => page.container.querySelector<HTMLElement>('[data-testid=presence]')

test('"online" is not shown while this browser is offline, and comes back from the snapshot after the reconnect', async () => {
  const { store, sockets } = appStore(api)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() =>
    sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: true, lastSeenAt: null }] }),
  )
  await eventually(() => expect(label()?.dataset.online).toBe('true'))

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
