// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// The open thread, read, then read again (a reconnect, a gap) and the server failing that read: the thread stays on
// screen with the read's error above it. A message from the other person that came meanwhile was added to it, and
// nothing said it.
describe('a message in the open thread while its read again has failed', () => {
  const page = pagePerTest('#/messages/c1')

  test('is said as it comes', async () => {
    let threadFails = false
    let threadNow = [message(1)]
    const fetchFn = apiRoutes((_method, path) => {
      if (path === '/api/conversations') return json(200, [conversation('c1')])
      if (path === '/api/users') return json(200, [alice, bob])
      if (path === '/api/conversations/c1/messages')
        return threadFails
          ? json(500, { error: { code: 'INTERNAL', message: 'database timeout' } })
          : json(200, threadNow)
      return json(200, [])
    })
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    // The server takes the thread's join: its new messages are read as they come, not unread.
    await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
    act(() => sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null }))
    threadFails = true
    act(() => void store.dispatch(api.util.invalidateTags([{ type: 'Message', id: 'c1' }])))
    await eventually(() => expect(page.container.querySelector('[data-testid=thread] [role=alert]')).not.toBeNull())
    const polite = politeSaid()
    act(() => sockets.last.serverEmit('message:new', message(2, { content: 'are you there?' })))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
    await eventually(() => expect(polite).toContain('New message from Bob: are you there?'))
    // Read again, as the server has it now: what was said is not said again.
    threadFails = false
    threadNow = [message(1), message(2, { content: 'are you there?' })]
    const tryAgain = [...page.container.querySelectorAll<HTMLButtonElement>('[data-testid=thread] button')].find(
      (b) => b.textContent === 'Try again',
    )!
    act(() => tryAgain.click())
    await eventually(() => expect(page.container.querySelector('[data-testid=thread] [role=alert]')).toBeNull())
    expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2)
    expect(polite.filter((s) => s.includes('are you there?'))).toHaveLength(1)
    store.dispose()
  })
})
