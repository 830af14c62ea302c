// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import type { ContactRequest, Lesson } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// A list is being read again (the connection came back with a gap) when the socket drops, and the user changes a card
// meanwhile: the change is answered first and shown, then the read lands with the list as the server had it before
// the change. With the socket down no event follows to put it right: the card went back to what it was (a lesson the
// tutor had confirmed showed "pending" again, a request just sent vanished) until the next read, which with the socket
// down may be a long time coming. The answer to one's own change is applied again once such a read lands, as events are.

const page = pagePerTest('#/lessons')

/** A list read the test answers itself, with the list as it was when the read began. */
function heldList(before: unknown[]) {
  let hold = false
  let answer: (() => void) | null = null
  return {
    holdNext: () => {
      hold = true
    },
    held: () => answer !== null,
    answer: () => answer!(),
    read: (): Response | Promise<Response> => {
      if (!hold) return json(200, before)
      hold = false
      const asItWas = [...before]
      return new Promise<Response>((resolve) => {
        answer = () => resolve(json(200, asItWas))
      })
    },
  }
}

/** Connects the page's socket, then drops it while a read of every list it shows is on its way. */
async function dropWhileReading(sockets: ReturnType<typeof appStore>['sockets'], reading: ReturnType<typeof heldList>) {
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  reading.holdNext()
  act(() => sockets.last.serverEmit('sync:gap', { offset: 2, epoch: 'e1' }))
  await eventually(() => expect(reading.held()).toBe(true))
  act(() => sockets.last.serverDrop())
}

describe('one’s own change answered while an older read of its list is on its way, with the socket down', () => {
  test.each([
    {
      name: 'a lesson confirmed',
      hash: '#/lessons',
      list: '/api/lessons',
      testId: 'lesson',
      press: 'Confirm',
      before: lesson('l1') as Lesson | ContactRequest,
      after: lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' }) as Lesson | ContactRequest,
    },
    {
      name: 'a request accepted',
      hash: '#/contact-requests',
      list: '/api/contact-requests',
      testId: 'contact-request',
      press: 'Accept',
      before: contactRequest('r1'),
      after: contactRequest('r1', { status: 'accepted', updatedAt: '2026-11-24T09:00:00.000Z' }),
    },
  ])('$name: the card keeps the status the server answered', async ({ hash, list, testId, press, before, after }) => {
    const reading = heldList([before])
    const fetchFn = apiRoutes(async (method, path) => {
      if (method === 'PATCH') return json(200, after)
      if (path === list) return reading.read()
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', hash)
    const { store, sockets } = appStore(fetchFn, {
      preloadedState: { auth: { token: 'token-1', user: bob } },
      realtime: { invalidationWindowMs: 0 },
    })
    renderApp(page.root, store)
    const card = () => page.container.querySelector(`[data-testid=${testId}]`)
    await eventually(() => expect(card()).not.toBeNull())
    await dropWhileReading(sockets, reading)

    act(() => [...card()!.querySelectorAll('button')].find((b) => b.textContent === press)!.click())
    await eventually(() =>
      expect(card()!.querySelector(`[data-testid=${testId}-status]`)!.textContent).toBe(after.status),
    )
    await act(async () => reading.answer())
    // The read has landed (nothing of it is pending) and the card still says what the server answered.
    const query = testId === 'lesson' ? 'getLessons(undefined)' : 'getContactRequests(undefined)'
    await eventually(() => expect(store.getState().api.queries[query]?.status).toBe('fulfilled'))
    await act(async () => {})
    expect(card()!.querySelector(`[data-testid=${testId}-status]`)!.textContent).toBe(after.status)
    store.dispose()
  })
})

describe('one’s own booking or request answered while an older read of its list is on its way, with the socket down', () => {
  const tutor = { ...bob, role: 'tutor' as const }
  test.each([
    { name: 'a lesson booked', hash: '#/lessons', list: '/api/lessons', testId: 'lesson', label: 'Subject' },
    {
      name: 'a contact request sent',
      hash: '#/contact-requests',
      list: '/api/contact-requests',
      testId: 'contact-request',
      label: 'Message',
    },
  ])('$name: its card stays listed', async ({ hash, list, testId, label }) => {
    // One card listed already (the other tutor's), so the list is drawn before the read begins.
    const earlier =
      testId === 'lesson' ? lesson('l0', { tutorId: 'u-carol' }) : contactRequest('r0', { tutorId: 'u-carol' })
    const reading = heldList([earlier])
    const fetchFn = apiRoutes(async (method, path, request) => {
      if (method === 'POST') {
        const body = (await request.json()) as Record<string, unknown>
        return json(
          201,
          testId === 'lesson'
            ? lesson('l1', { subject: String(body.subject), updatedAt: '2026-11-24T09:00:00.000Z' })
            : contactRequest('r1', { message: String(body.message), updatedAt: '2026-11-24T09:00:00.000Z' }),
        )
      }
      if (path === list) return reading.read()
      if (path === '/api/users') return json(200, [alice, tutor])
      return json(200, [])
    })
    window.history.replaceState(null, '', hash)
    const { store, sockets } = appStore(fetchFn, { realtime: { invalidationWindowMs: 0 } })
    renderApp(page.root, store)
    const cards = () => page.container.querySelectorAll(`[data-testid=${testId}]`)
    await eventually(() => expect(cards()).toHaveLength(1))
    await eventually(() => expect(fieldLabelled(page.container, 'Tutor', HTMLSelectElement).options.length).toBe(2))
    await dropWhileReading(sockets, reading)

    const select = fieldLabelled(page.container, 'Tutor', HTMLSelectElement)
    act(() => {
      select.value = tutor.id
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
    type(fieldLabelled(page.container, label) as HTMLInputElement | HTMLTextAreaElement, 'Geometry, please')
    act(() => select.closest('form')!.requestSubmit())
    await eventually(() => expect(cards()).toHaveLength(2))
    await act(async () => reading.answer())
    const query = testId === 'lesson' ? 'getLessons(undefined)' : 'getContactRequests(undefined)'
    await eventually(() => expect(store.getState().api.queries[query]?.status).toBe('fulfilled'))
    await act(async () => {})
    expect(cards()).toHaveLength(2)
    store.dispose()
  })
})
