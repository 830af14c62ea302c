// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test, vi } from 'vitest'
import { PageBoundary } from '../../src/app/PageBoundary'
import { I18nProvider } from '../../src/i18n'
import { eventually } from './support/eventually'
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

// The same for a page that threw while drawing: pressed, "Try again" draws the page and goes.
/** A component that throws while drawing as long as `fragile.broken`. */
const fragile = { broken: true }
function Fragile() {
  if (fragile.broken) throw new Error('cannot draw')
  return <h1 tabIndex={-1}>drawn</h1>
}

describe('"Try again" on a page that could not be drawn', () => {
  test('keeps keyboard focus in the page once it is drawn', () => {
    fragile.broken = true
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      act(() =>
        page.root.render(
          <I18nProvider>
            <main id="main" tabIndex={-1}>
              <PageBoundary>
                <Fragile />
              </PageBoundary>
            </main>
          </I18nProvider>,
        ),
      )
      const retry = [...page.container.querySelectorAll('button')].find((b) => b.textContent === 'Try again')!
      act(() => retry.focus())
      fragile.broken = false
      act(() => retry.click())
      expect(page.container.querySelector('h1')?.textContent).toBe('drawn')
      expect(document.activeElement).not.toBe(document.body)
      expect(page.container.querySelector('main')!.contains(document.activeElement)).toBe(true)
    } finally {
      consoleError.mockRestore()
    }
  })
})
