// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import type { ContactRequest, Lesson } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, heldPatchApi, json, pagePerTest, renderApp } from './support/page'

// A keyboard user presses a card's button, and while its answer is on its way goes on to the next card's (answering
// one request after another on a slow network). When the answer comes, the first card takes focus only if the user is
// still there: pulled back to it, they would press the wrong card's button, or lose their place.

const page = pagePerTest()

interface Case {
  name: string
  hash: string
  list: string
  items: (Lesson | ContactRequest)[]
  /** The first card's answer. */
  answer: Lesson | ContactRequest
  card: (id: string) => string
  press: string
  status: string
}

const cases: Case[] = [
  {
    name: 'lessons: Confirm on the first, then on to the second',
    hash: '#/lessons',
    list: '/api/lessons',
    items: [
      lesson('l1', { startsAt: '2026-11-25T08:00:00.000Z' }),
      lesson('l2', { startsAt: '2026-11-26T08:00:00.000Z' }),
    ],
    answer: lesson('l1', {
      startsAt: '2026-11-25T08:00:00.000Z',
      status: 'confirmed',
      updatedAt: '2026-11-24T09:00:00.000Z',
    }),
    card: (id) => `[data-lesson-id=l${id}]`,
    press: 'Confirm',
    status: 'lesson-status',
  },
  {
    name: 'contact requests: Accept on the first, then on to the second',
    hash: '#/contact-requests',
    list: '/api/contact-requests',
    items: [
      contactRequest('r1', { createdAt: '2026-11-24T08:00:00.000Z' }),
      contactRequest('r2', { createdAt: '2026-11-24T07:00:00.000Z' }),
    ],
    answer: contactRequest('r1', {
      createdAt: '2026-11-24T08:00:00.000Z',
      status: 'accepted',
      updatedAt: '2026-11-24T09:00:00.000Z',
    }),
    card: (id) => `[data-request-id=r${id}]`,
    press: 'Accept',
    status: 'contact-request-status',
  },
]

describe('a card’s own change answered after the user has moved on', () => {
  test.each(cases)('$name: focus stays where the user is', async (c) => {
    const { fetchFn, release, patched } = heldPatchApi(c.list, c.items, c.answer)
    window.history.replaceState(null, '', c.hash)
    const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 't', user: bob } } })
    renderApp(page.root, store)
    const card = (n: string) => page.container.querySelector<HTMLElement>(c.card(n))
    await eventually(() => expect(card('2')).not.toBeNull())
    const buttonIn = (n: string) => [...card(n)!.querySelectorAll('button')].find((b) => b.textContent === c.press)!
    const first = buttonIn('1')
    first.focus()
    act(() => first.click())
    await eventually(() => expect(patched()).toBe(true))
    const next = buttonIn('2')
    act(() => next.focus())
    await act(async () => release())
    await eventually(() =>
      expect(card('1')!.querySelector(`[data-testid=${c.status}]`)?.textContent).toBe(c.answer.status),
    )
    await act(async () => {})
    expect(document.activeElement).toBe(next)
    store.dispose()
  })

  test.each(cases)('$name: still on the pressed button, the card takes focus as before', async (c) => {
    const fetchFn = apiRoutes(async (method, path) => {
      if (method === 'PATCH') return json(200, c.answer)
      if (path === c.list) return json(200, c.items)
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', c.hash)
    const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 't', user: bob } } })
    renderApp(page.root, store)
    const card = (n: string) => page.container.querySelector<HTMLElement>(c.card(n))
    await eventually(() => expect(card('2')).not.toBeNull())
    const first = [...card('1')!.querySelectorAll('button')].find((b) => b.textContent === c.press)!
    first.focus()
    act(() => first.click())
    await eventually(() => expect(document.activeElement).toBe(card('1')))
    store.dispose()
  })
})
