// @vitest-environment jsdom
import { act } from 'react'
import { createRoot } from 'react-dom/client'
import { describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { appStore, pagePerTest, renderApp, writtenBeforeReload } from './support/page'

// A message the server refused, kept in the outbox, is shown with Retry and Discard in its thread even when the thread
// cannot be read after a reload (the server out of reach): there is no composer then, where these buttons otherwise
// leave focus. A removed focused element leaves focus on <body>, and the keyboard user's next Tab starts again from
// the top of the page (WCAG 2.4.3).
describe('Retry or Discard on a failed message in a thread that cannot be read', () => {
  const page = pagePerTest('#/messages/c1')

  test.each(['Retry', 'Discard'])('%s keeps keyboard focus in the thread', async (name) => {
    const storage = await writtenBeforeReload(page, 'refused', { refused: true })

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
