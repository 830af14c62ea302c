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

/**
 * A list as the server has it (`set` after each change it makes), whose next read (`holdNext`) the test answers itself
 * (`answerFirst`, in the order they came), with the list as it was when that read began: a read asked after a change
 * answers with it, as the server's does.
 */
function heldList(before: unknown[]) {
  let now = before
  let hold = false
  const waiting: (() => void)[] = []
  return {
    set: (list: unknown[]) => {
      now = list
    },
    holdNext: () => {
      hold = true
    },
    /** How many reads are held. */
    held: () => waiting.length,
    answerFirst: () => waiting.shift()!(),
    read: (): Response | Promise<Response> => {
      if (!hold) return json(200, now)
      hold = false
      const asItWas = [...now]
      return new Promise<Response>((resolve) => {
        waiting.push(() => resolve(json(200, asItWas)))
      })
    },
  }
}

/**
 * Answers the read begun before the change (the list without it), holding the read that follows it (with the socket
 * down the pages read again; that one, asked after the change, holds it): until it comes, what the page shows is the
 * older read with the change applied over it, or not.
 */
async function olderReadLands(reading: ReturnType<typeof heldList>) {
  reading.holdNext()
  await act(async () => reading.answerFirst())
  await eventually(() => expect(reading.held()).toBe(1))
  await act(async () => {})
}

/** Connects the page's socket, then drops it while a read of every list it shows is on its way. */
async function dropWhileReading(sockets: ReturnType<typeof appStore>['sockets'], reading: ReturnType<typeof heldList>) {
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  reading.holdNext()
  act(() => sockets.last.serverEmit('sync:gap', { offset: 2, epoch: 'e1' }))
  await eventually(() => expect(reading.held()).toBe(1))
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
      if (method === 'PATCH') {
        reading.set([after])
        return json(200, after)
      }
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
    // The older read has landed, and the card still says what the server answered; and once the next read comes.
    await olderReadLands(reading)
    expect(card()!.querySelector(`[data-testid=${testId}-status]`)!.textContent).toBe(after.status)
    await act(async () => reading.answerFirst())
    const query = testId === 'lesson' ? 'getLessons(undefined)' : 'getContactRequests(undefined)'
    await eventually(() => expect(store.getState().api.queries[query]?.status).toBe('fulfilled'))
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
        const made =
          testId === 'lesson'
            ? lesson('l1', { subject: String(body.subject), updatedAt: '2026-11-24T09:00:00.000Z' })
            : contactRequest('r1', { message: String(body.message), updatedAt: '2026-11-24T09:00:00.000Z' })
        reading.set([earlier, made])
        return json(201, made)
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
    await olderReadLands(reading)
    expect(cards()).toHaveLength(2)
    await act(async () => reading.answerFirst())
    const query = testId === 'lesson' ? 'getLessons(undefined)' : 'getContactRequests(undefined)'
    await eventually(() => expect(store.getState().api.queries[query]?.status).toBe('fulfilled'))
    expect(cards()).toHaveLength(2)
    store.dispose()
  })
})
