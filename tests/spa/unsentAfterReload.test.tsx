// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { eventually } from './support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp, type } from './support/page'

// Messages written offline live in the durable outbox and are sent after a reload; a reload while the server is still
// out of reach cannot read the thread, and the user should still see what they wrote as waiting, not lose sight of it.
describe('unsent messages after a reload with the server out of reach', () => {
  const page = pagePerTest('#/messages/c1')

  it('shows the open thread’s unsent messages as sending though its messages cannot be read', async () => {
    const storage = createMemoryStorage()
    const unreachable = () => Promise.reject(new TypeError('Failed to fetch'))
    const before = apiRoutes((method, path) => {
      if (method === 'POST') return unreachable()
      if (path === '/api/conversations') return json(200, [conversation('c1')])
      if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    const first = appStore(before, { storage })
    renderApp(page.root, first.store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
    type(composer, 'written offline')
    act(() => composer.closest('form')!.requestSubmit())
    await eventually(() => expect(page.container.textContent).toContain('written offline'))
    act(() => page.root.unmount())
    first.store.dispose()

    const { createRoot } = await import('react-dom/client')
    const root = createRoot(page.container)
    const second = appStore(apiRoutes(unreachable), { storage })
    renderApp(root, second.store)
    await eventually(() => expect(page.container.querySelector('[role=alert], .load-error')).not.toBeNull())
    await eventually(() => {
      const shown = [...page.container.querySelectorAll('[data-testid=message]')].map((m) => m.textContent)
      expect(shown).toContainEqual(expect.stringMatching(/written offline.*Sending/))
    })
    act(() => root.unmount())
    second.store.dispose()
  })
})
