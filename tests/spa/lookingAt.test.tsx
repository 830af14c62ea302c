// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// Opening a thread joins its room, which tells the server the user is looking at it: it marks the thread read and
// tells the other person "Seen". A thread whose messages could not be read shows none of them.

const page = pagePerTest('#/messages/c1')

test('a thread whose read failed is not looked at (no join, so no "Seen"); once read, it is', async () => {
  let answer = () => json(503, { error: { code: 'INTERNAL', message: 'database away' } })
  const api = apiRoutes((_method, path) => {
    if (path === '/api/conversations') return json(200, [conversation('c1')])
    if (path === '/api/conversations/c1/messages') return answer()
    if (path === '/api/users') return json(200, [alice, bob])
    return json(200, [])
  })
  const { store, sockets } = appStore(api)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
  await eventually(() => expect(page.container.querySelector('[data-testid=thread] [role=alert]')).not.toBeNull())
  expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(0)
  expect(sockets.last.sent('conversation:join')).toEqual([])

  answer = () => json(200, [message(1, { senderId: bob.id })])
  act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=thread] [role=alert] button')!.click())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
  store.dispose()
})
