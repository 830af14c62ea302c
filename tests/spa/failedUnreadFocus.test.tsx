// @vitest-environment jsdom
import { act } from 'react'
import { createRoot } from 'react-dom/client'
import { describe, expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { appStore, pagePerTest, renderApp, threadApi } from './support/page'

// A message the server refused, kept in the outbox, is shown with Retry and Discard in its thread even when the thread
// cannot be read after a reload (the server out of reach): there is no composer then, where these buttons otherwise
// leave focus. A removed focused element leaves focus on <body>, and the keyboard user's next Tab starts again from
// the top of the page (WCAG 2.4.3).
describe('Retry or Discard on a failed message in a thread that cannot be read', () => {
  const page = pagePerTest('#/messages/c1')

  test.each(['Retry', 'Discard'])('%s keeps keyboard focus in the thread', async (name) => {
    const storage = createMemoryStorage()
    const first = appStore(threadApi, { storage })
    renderApp(page.root, first.store)
    act(() => first.sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    act(() => void first.store.dispatch(sendMessage({ conversationId: 'c1', content: 'refused', clientId: 'k0' })))
    await eventually(() => expect(first.sockets.last.sent('message:send')).toHaveLength(1))
    await act(async () => {
      first.sockets.last
        .sent('message:send')[0]!
        .ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
    })
    await eventually(() => expect(page.container.querySelector('[data-status=failed]')).not.toBeNull())
    act(() => page.root.unmount())
    first.store.dispose()

    const root = createRoot(page.container)
    const second = appStore(() => Promise.reject(new TypeError('Failed to fetch')), { storage })
    renderApp(root, second.store)
    const button = await eventually(() => {
      const found = [...page.container.querySelectorAll('[data-status=failed] button')].find(
        (b) => b.textContent === name,
      )
      expect(found).toBeInstanceOf(HTMLButtonElement)
      return found as HTMLButtonElement
    })
    expect(page.container.querySelector('[data-testid=composer]')).toBeNull()
    act(() => button.focus())
    act(() => button.click())
    await eventually(() => expect(button.isConnected).toBe(false))
    expect(document.activeElement).not.toBe(document.body)
    expect(page.container.querySelector('[data-testid=thread]')!.contains(document.activeElement)).toBe(true)
    act(() => root.unmount())
    second.store.dispose()
  })
})
