// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// Cancelling a lesson and declining a request cannot be undone (both statuses are final), and each went at the first
// press of its button: a slip of the finger on a phone, or Enter on the wrong card, cancelled a booked lesson for both
// people. WCAG 3.3.4 (AA) asks that such a change be reversible, checked or confirmed; the card asks once more, in
// place, with the safe answer focused.

const page = pagePerTest('#/lessons')

interface Case {
  name: string
  hash: string
  testId: string
  me: User
  list: string
  item: unknown
  press: string
  question: string
  yes: string
  no: string
  status: string
}

const CASES: Case[] = [
  {
    name: 'a lesson cancelled by its student',
    hash: '#/lessons',
    testId: 'lesson',
    me: alice,
    list: '/api/lessons',
    item: lesson('l1', { status: 'confirmed' }),
    press: 'Cancel lesson',
    question: 'Cancel “Algebra” with Bob? This cannot be undone.',
    yes: 'Yes, cancel lesson',
    no: 'Keep lesson',
    status: 'cancelled',
  },
  {
    // Completed is final too (nothing leaves it), and Complete sat beside Cancel on every confirmed lesson, next week's
    // included: a slip ended the booking for both people, the student left unable to cancel it.
    name: 'a lesson completed by its tutor',
    hash: '#/lessons',
    testId: 'lesson',
    me: bob,
    list: '/api/lessons',
    item: lesson('l1', { status: 'confirmed' }),
    press: 'Complete',
    question: 'Mark “Algebra” with Alice as completed? This cannot be undone.',
    yes: 'Yes, mark completed',
    no: 'Not yet',
    status: 'completed',
  },
  {
    name: 'a request declined by its tutor',
    hash: '#/contact-requests',
    testId: 'contact-request',
    me: bob,
    list: '/api/contact-requests',
    item: contactRequest('r1'),
    press: 'Decline',
    question: 'Decline Alice’s request? This cannot be undone.',
    yes: 'Yes, decline',
    no: 'Keep request',
    status: 'declined',
  },
]

/**
 * `held`: the server answers the PATCH only once `answer` is called (a slow network). `listReads()`: how often the
 * list was asked for (each answers `item` as it was).
 */
async function cardPage({ hash, testId, me, list, item, status }: Case, held = false) {
  const patches: unknown[] = []
  let listReads = 0
  let answer = () => {}
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (method === 'PATCH') {
      patches.push(await request.json())
      if (held) await new Promise<void>((resolve) => (answer = resolve))
      return json(200, { ...(item as object), status, updatedAt: '2026-11-24T09:00:00.000Z' })
    }
    if (path === list) {
      listReads++
      return json(200, [item])
    }
    if (path === '/api/users') return json(200, [alice, bob])
    return json(200, [])
  })
  window.history.replaceState(null, '', hash)
  const { store, sockets } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: me } } })
  renderApp(page.root, store)
  const card = () => page.container.querySelector<HTMLElement>(`[data-testid=${testId}]`)!
  await eventually(() => expect(card()).not.toBeNull())
  const button = (name: string) => [...card().querySelectorAll('button')].find((b) => b.textContent === name) ?? null
  const question = () => card().querySelector('fieldset')
  const statusShown = () => card().querySelector(`[data-testid=${testId}-status]`)!.textContent
  return {
    store,
    sockets,
    patches,
    card,
    button,
    question,
    statusShown,
    answer: () => answer(),
    listReads: () => listReads,
  }
}

describe.each(CASES)('$name asks once more before it goes', (c) => {
  test('the first press asks, in place, with the safe answer focused; nothing is sent', async () => {
    const { store, patches, button, question, statusShown } = await cardPage(c)
    act(() => button(c.press)!.focus())
    act(() => button(c.press)!.click())
    await eventually(() => expect(question()).not.toBeNull())
    // A group named by its question (its legend), so a screen reader says what is asked when focus comes into it.
    expect(question()!.querySelector('legend')!.textContent).toBe(c.question)
    expect(document.activeElement).toBe(button(c.no))
    expect(button(c.yes)).not.toBeNull()
    expect(button(c.press)).toBeNull()
    expect(patches).toEqual([])
    expect(statusShown()).not.toBe(c.status)
    store.dispose()
  })

  test.each(['the safe answer', 'Escape'])(
    '%s takes it back: nothing sent, focus on the button pressed',
    async (how) => {
      const { store, patches, button, question } = await cardPage(c)
      act(() => button(c.press)!.click())
      await eventually(() => expect(document.activeElement).toBe(button(c.no)))
      if (how === 'Escape')
        act(() => {
          document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
        })
      else act(() => button(c.no)!.click())
      await eventually(() => expect(question()).toBeNull())
      expect(document.activeElement).toBe(button(c.press))
      expect(patches).toEqual([])
      store.dispose()
    },
  )

  // The change is on its way and cannot be called back: a "Keep" taken then would put the card's buttons back as if
  // nothing went, and the change would come a moment later all the same.
  test.each(['the safe answer', 'Escape'])(
    '%s while the yes is on its way takes nothing back: the question stays until the change is drawn',
    async (how) => {
      const { store, patches, button, card, question, statusShown, answer } = await cardPage(c, true)
      act(() => button(c.press)!.click())
      await eventually(() => expect(button(c.yes)).not.toBeNull())
      act(() => button(c.yes)!.click())
      await eventually(() => expect(patches).toEqual([{ status: c.status }]))
      act(() => button(c.no)!.focus())
      if (how === 'Escape')
        act(() => {
          document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
        })
      else act(() => button(c.no)!.click())
      expect(question()).not.toBeNull()
      expect(button(c.no)!.getAttribute('aria-disabled')).toBe('true')
      expect(document.activeElement).toBe(button(c.no))
      act(() => answer())
      await eventually(() => expect(statusShown()).toBe(c.status))
      expect(question()).toBeNull()
      await eventually(() => expect(document.activeElement).toBe(card()))
      store.dispose()
    },
  )

  test('the yes makes the change, and focus goes to the card', async () => {
    const { store, patches, button, card, question, statusShown } = await cardPage(c)
    act(() => button(c.press)!.click())
    await eventually(() => expect(button(c.yes)).not.toBeNull())
    act(() => button(c.yes)!.focus())
    act(() => button(c.yes)!.click())
    await eventually(() => expect(statusShown()).toBe(c.status))
    expect(patches).toEqual([{ status: c.status }])
    expect(question()).toBeNull()
    await eventually(() => expect(document.activeElement).toBe(card()))
    store.dispose()
  })
})

test('the other person’s change while the student is asked ends the question (there is nothing left to cancel)', async () => {
  const c = CASES[0]!
  const { store, sockets, patches, card, question, button, statusShown, listReads } = await cardPage(c)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  // The page read the list before the socket's first sync, so the list is read again once after it (the catch-up, at
  // the end of the 250 ms invalidation window, or later when other reads are under way). This server answers the lesson
  // from before the change whenever asked: that read asked after the change (a busy machine's late timer) took it back,
  // as no server would. The change comes once the list was read again.
  await eventually(() => expect(listReads()).toBe(2))
  await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).status).toBe('fulfilled'))
  act(() => button(c.press)!.click())
  await eventually(() => expect(document.activeElement).toBe(button(c.no)))
  act(() =>
    sockets.last.serverEmit(
      'lesson:statusUpdated',
      lesson('l1', { status: 'completed', updatedAt: '2026-11-24T09:30:00.000Z' }),
      { offset: 2 },
    ),
  )
  await eventually(() => expect(statusShown()).toBe('completed'))
  expect(question()).toBeNull()
  await eventually(() => expect(document.activeElement).toBe(card()))
  expect(patches).toEqual([])
  store.dispose()
})

describe('in French', () => {
  afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))
  test.each([
    [
      CASES[0]!,
      'Annuler le cours',
      'Annuler «\u202fAlgebra\u202f» avec Bob\u202f? C’est définitif.',
      'Oui, annuler le cours',
      'Garder le cours',
    ],
    [
      CASES[1]!,
      'Terminer',
      'Marquer «\u202fAlgebra\u202f» avec Alice comme terminé\u202f? C’est définitif.',
      'Oui, marquer terminé',
      'Pas encore',
    ],
    [
      CASES[2]!,
      'Refuser',
      'Refuser la demande envoyée par Alice\u202f? C’est définitif.',
      'Oui, refuser',
      'Garder la demande',
    ],
  ])('$name: the question and its answers', async (c, press, question, yes, no) => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const page = await cardPage(c)
    act(() => page.button(press)!.click())
    await eventually(() => expect(page.question()).not.toBeNull())
    expect(page.question()!.querySelector('legend')!.textContent).toBe(question)
    expect(page.button(yes)).not.toBeNull()
    expect(document.activeElement).toBe(page.button(no))
    page.store.dispose()
  })
})
