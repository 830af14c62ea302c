// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import type { ContactRequest, Lesson } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, at, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// Two lessons at the same moment (the booking form's default is tomorrow at 10:00, whichever tutor), or two requests
// sent in the same millisecond: the server lists them by id, the page kept them in the order they reached its cache.
// One that came by its event was drawn below the other; the next read (a gap, a reconnect, Try again) put it above,
// and the cards swapped places under the tutor's pointer, Confirm of one becoming Confirm of the other.

const page = pagePerTest()

describe('two items at the same moment keep the server’s order, whether they came by event or by a read', () => {
  test.each([
    {
      name: 'lessons starting together',
      hash: '#/lessons',
      list: '/api/lessons',
      query: 'getLessons',
      testId: 'lesson',
      idAttr: 'data-lesson-id',
      event: 'lesson:created',
      first: lesson('l-2', { subject: 'Algebra' }) as Lesson | ContactRequest,
      // Booked later, listed first by the server (same startsAt, a lower id).
      later: lesson('l-1', { subject: 'Geometry', updatedAt: at(5) }) as Lesson | ContactRequest,
    },
    {
      name: 'requests sent in the same millisecond',
      hash: '#/contact-requests',
      list: '/api/contact-requests',
      query: 'getContactRequests',
      testId: 'contact-request',
      idAttr: 'data-request-id',
      event: 'contactRequest:created',
      first: contactRequest('r-2', { tutorId: 'u-carol' }),
      later: contactRequest('r-1'),
    },
  ])('$name', async ({ hash, list, query, testId, idAttr, event, first, later }) => {
    let listed = [first]
    let reads = 0
    const fetchFn = apiRoutes((_method, path) => {
      if (path === list) {
        reads++
        return json(200, listed)
      }
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', hash)
    const { store, sockets } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: bob } } })
    renderApp(page.root, store)
    const shown = () =>
      [...page.container.querySelectorAll(`[data-testid=${testId}]`)].map((c) => c.getAttribute(idAttr))
    await eventually(() => expect(shown()).toEqual([first.id]))
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))

    listed = [later, first]
    act(() => sockets.last.serverEmit(event, later, { offset: 2 }))
    await eventually(() => expect(shown()).toHaveLength(2))
    expect(shown()).toEqual([later.id, first.id])

    // Read again: nothing moves.
    const readsBefore = reads
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => expect(reads).toBeGreaterThan(readsBefore))
    await eventually(() => expect(store.getState().api.queries[`${query}(undefined)`]?.status).toBe('fulfilled'))
    // Drawn with what it read.
    await act(async () => {})
    expect(shown()).toEqual([later.id, first.id])
  })
})
