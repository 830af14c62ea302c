// @vitest-environment jsdom
import { act } from 'react'
import { createRoot } from 'react-dom/client'
import { describe, expect, test } from 'vitest'
import { alice, bob } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp, saidIn, writtenBeforeReload } from './support/page'

// A message written before a reload waits in the outbox; after the reload its thread could not be read (the server
// failing that read), so the thread shows it below the read's error, with no composer. Sent again as the socket
// connected, the server refused it: "Not sent: …" appeared with Retry and Discard, but nothing was said. The open
// thread says the refusals of its own messages only once read, and the messages page leaves the open thread's to it.
describe('A waiting message refused in a thread that cannot be read', () => {
  const page = pagePerTest('#/messages/c1')

  test('is said, as it is in a thread that was read', async () => {
    const storage = await writtenBeforeReload(page, 'written')

    // The reload: every read answers, but the thread's, which the server fails.
    const root = createRoot(page.container)
    const failingThread = apiRoutes((_method, path) => {
      if (path === '/api/conversations/c1/messages')
        return json(500, { error: { code: 'INTERNAL', message: 'database timeout' } })
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    const second = appStore(failingThread, { storage })
    renderApp(root, second.store)
    await eventually(() => expect(page.container.querySelector('[data-testid=thread] [role=alert]')).not.toBeNull())
    await eventually(() => expect(page.container.querySelector('[data-status=pending]')).not.toBeNull())
    const assertive = saidIn('[data-testid=announcer-assertive]')
    const polite = saidIn('[data-testid=announcer-polite]')
    act(() => second.sockets.last.serverConnect())
    const resent = await eventually(() => {
      const sends = second.sockets.last.sent('message:send')
      expect(sends.length).toBeGreaterThan(0)
      return sends.at(-1)!
    })
    await act(async () => resent.ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } }))
    await eventually(() => expect(page.container.querySelector('[data-status=failed]')).not.toBeNull())
    await eventually(() =>
      expect([...assertive, ...polite].join(' ')).toContain('Not sent: You are not allowed to do that.'),
    )
    act(() => root.unmount())
    second.store.dispose()
  })

  test('one that had failed before the reload is on screen, not news', async () => {
    const storage = await writtenBeforeReload(page, 'refused', { refused: true })

    const root = createRoot(page.container)
    const second = appStore(() => Promise.reject(new TypeError('Failed to fetch')), { storage })
    renderApp(root, second.store)
    await eventually(() => expect(page.container.querySelector('[data-testid=thread] [role=alert]')).not.toBeNull())
    expect(page.container.querySelector('[data-status=failed]')).not.toBeNull()
    expect(page.container.querySelector('[data-testid=announcer-assertive]')!.textContent).toBe('')
    expect(page.container.querySelector('[data-testid=announcer-polite]')!.textContent).toBe('')
    act(() => root.unmount())
    second.store.dispose()
  })
})
