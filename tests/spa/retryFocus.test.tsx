// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { eventually } from '../unit/support/eventually'
import { alice, bob, contactRequest, conversation, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// A list whose read failed offers "Try again"; once the read succeeds the button goes with the error. A focused
// element that is removed leaves focus on <body>, and the keyboard user's next Tab starts again from the top of the page
// (WCAG 2.4.3), after they had pressed the one control the page offered.

const page = pagePerTest()

describe('"Try again" on a list whose read failed', () => {
  test.each([
    ['#/messages', '/api/conversations', [conversation('c1')], 'conversation'],
    ['#/lessons', '/api/lessons', [lesson('l1')], 'lesson'],
    ['#/contact-requests', '/api/contact-requests', [contactRequest('r1')], 'contact-request'],
  ] as const)('at %s keeps keyboard focus in the page once the list is read', async (hash, listPath, list, item) => {
    window.history.replaceState(null, '', hash)
    let failing = true
    const { store, sockets } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/users') return json(200, [alice, bob])
        if (path === listPath)
          return failing ? json(500, { error: { code: 'INTERNAL', message: 'down' } }) : json(200, list)
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const retry = await eventually(() => {
      const found = [...page.container.querySelectorAll('main button')].find((b) => b.textContent === 'Try again')
      expect(found).toBeInstanceOf(HTMLButtonElement)
      return found as HTMLButtonElement
    })
    act(() => retry.focus())
    failing = false
    act(() => retry.click())
    await eventually(() => expect(page.container.querySelectorAll(`[data-testid=${item}]`)).toHaveLength(1))
    expect(retry.isConnected).toBe(false)
    // Somewhere in the page's content, where the list now is; not <body>.
    expect(document.activeElement).not.toBe(document.body)
    expect(page.container.querySelector('main')!.contains(document.activeElement)).toBe(true)
    store.dispose()
  })
})
