// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { FAILED_READ_RETRIES } from '../../src/realtime/readsHandler'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  bobsThreadApi,
  json,
  pageEndingAt,
  pagePerTest,
  renderApp,
  saidInAlerts,
} from './support/page'

// A read that failed offers "Try again" beside the error's words, in an alert. Pressed, and failing the same way again,
// the same words were left in place: nothing in the page changed, and a screen reader said nothing, so the user could
// not tell the retry had been made at all (WCAG 4.1.3). The words go while the read is tried again, and come back
// (said again) when it fails again.

const DOWN = 'The server ran into a problem. Please try again.'
const down = () => json(500, { error: { code: 'INTERNAL', message: 'down' } })

const page = pagePerTest()

/** The error's words the page shows in alerts now. */
const alertWords = () => [...page.container.querySelectorAll('[role=alert]')].map((a) => a.textContent).join(' ')

describe('"Try again" on a read that fails again', () => {
  test.each([
    ['the conversation list', '#/messages', '/api/conversations'],
    ['the lessons', '#/lessons', '/api/lessons'],
    ['the contact requests', '#/contact-requests', '/api/contact-requests'],
    ['a thread', '#/messages/c1', '/api/conversations/c1/messages'],
    ['the tutors of the booking form', '#/lessons', '/api/users'],
  ] as const)('on %s says the error again, and that it is trying meanwhile', async (_what, hash, failing) => {
    window.history.replaceState(null, '', hash)
    /** The answers held back, once the first read has failed: released, each fails again. */
    let hold = false
    const held: (() => void)[] = []
    // Not connected: no socket news reads anything again by itself, so each read is the user's.
    const { store } = appStore(
      apiRoutes((_method, path) => {
        if (path === failing) {
          if (!hold) return down()
          return new Promise<Response>((resolve) => held.push(() => resolve(down())))
        }
        if (path === '/api/users') return json(200, [alice, bob])
        if (path === '/api/conversations') return json(200, [conversation('c1')])
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    const retry = await eventually(() => {
      const found = [...page.container.querySelectorAll('main button')].filter((b) => b.textContent === 'Try again')
      expect(found).toHaveLength(1)
      return found[0] as HTMLButtonElement
    })
    expect(alertWords()).toContain(DOWN)
    hold = true
    const said = saidInAlerts(page.container)

    act(() => retry.focus())
    act(() => retry.click())
    await eventually(() => expect(held).toHaveLength(1))
    // Trying: the button says so, and the last failure's words are not left standing as if this one had failed too.
    expect(retry.textContent).toBe('Trying again…')
    expect(alertWords()).not.toContain(DOWN)

    expect(said).not.toContain(DOWN)
    await act(async () => held[0]!())
    await eventually(() => expect(said.join(' ')).toContain(DOWN))
    expect(retry.textContent).toBe('Try again')
    // The user is where they were, to try once more.
    expect(document.activeElement).toBe(retry)
    store.dispose()
  })
})

describe('a read the layer makes again by itself', () => {
  test('leaves the words as they are: its tries, unasked, are not said one by one', async () => {
    window.history.replaceState(null, '', '#/lessons')
    let reads = 0
    let answered = 0
    const { store, sockets } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/lessons') {
          reads++
          // Each try is on its way a moment, long enough to be drawn.
          return new Promise<Response>((resolve) =>
            setTimeout(() => {
              answered++
              resolve(down())
            }, 10),
          )
        }
        if (path === '/api/users') return json(200, [alice, bob])
        return json(200, [])
      }),
      // A short backoff, without jitter: the layer's tries come a few milliseconds apart.
      { realtime: { backoff: { baseMs: 10, capMs: 20 }, random: () => 1 } },
    )
    const said = saidInAlerts(page.container)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
    // The first read, and the layer's tries after it (FAILED_READ_RETRIES), all failing: every one answered, and the
    // last one's failure in the store (and drawn), after which the layer makes none again.
    await eventually(() => {
      expect(answered).toBeGreaterThanOrEqual(1 + FAILED_READ_RETRIES)
      expect(answered).toBe(reads)
      expect(store.getState().api.queries['getLessons(undefined)']?.status).toBe('rejected')
    })
    expect(alertWords()).toContain(DOWN)
    expect(said.filter((words) => words.includes(DOWN))).toHaveLength(1)
    store.dispose()
  })
})

describe('"Load earlier" failing again', () => {
  test('says the error again', async () => {
    window.history.replaceState(null, '', '#/messages/c1')
    let hold = false
    const held: (() => void)[] = []
    const { store } = appStore(
      bobsThreadApi((before) => {
        if (before === null) return pageEndingAt(100)
        if (!hold) return down()
        return new Promise<Response>((resolve) => held.push(() => resolve(down())))
      }),
    )
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(50))
    const button = page.container.querySelector<HTMLButtonElement>('.load-earlier button')!
    act(() => button.focus())
    act(() => button.click())
    await eventually(() => expect(alertWords()).toContain(DOWN))
    hold = true
    const said = saidInAlerts(page.container)

    act(() => button.click())
    await eventually(() => expect(held).toHaveLength(1))
    expect(button.textContent).toBe('Loading…')
    expect(alertWords()).not.toContain(DOWN)

    expect(said).not.toContain(DOWN)
    await act(async () => held[0]!())
    await eventually(() => expect(said).toEqual([DOWN]))
    expect(document.activeElement).toBe(button)
    store.dispose()
  })
})
