// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, beforeEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, focusLeavesDisabledControls, json, pagePerTest, renderApp } from './support/page'

// Once a request is accepted, its card offers to write to the other person: before, both had to go to Messages and
// start the conversation by hand.

const page = pagePerTest('#/contact-requests')
let undoFixup: () => void
beforeEach(() => {
  undoFixup = focusLeavesDisabledControls()
})
afterEach(() => {
  undoFixup()
  localStorage.removeItem(LOCALE_STORAGE_KEY)
})

const requests = [
  contactRequest('r1', { status: 'accepted' }),
  contactRequest('r2', { status: 'pending', createdAt: '2026-11-24T07:00:00.000Z' }),
  contactRequest('r3', { status: 'declined', createdAt: '2026-11-24T06:00:00.000Z' }),
]

/**
 * The page of `me`, listing `requests`; POST /api/conversations is recorded and answered by `created` (conversation
 * `c9` of Alice and Bob by default).
 */
async function requestsPage(
  me: User,
  created: () => Response | Promise<Response> = () => json(201, conversation('c9')),
) {
  const posted: unknown[] = []
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === '/api/contact-requests') return json(200, requests)
    if (method === 'POST' && path === '/api/conversations') {
      posted.push(await request.json())
      return created()
    }
    // The list read again after the creation holds it, as the server's does.
    if (path === '/api/conversations') return json(200, posted.length > 0 ? [conversation('c9')] : [])
    return json(200, [])
  })
  const { store, sockets } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: me } } })
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=contact-request]')).toHaveLength(3))
  return { store, posted }
}

const card = (id: string) => page.container.querySelector<HTMLElement>(`[data-request-id=${id}]`)!
const buttonsOf = (el: HTMLElement) => [...el.querySelectorAll('button')].map((b) => b.textContent)

test.each([
  ['student', alice, bob, 'Message Bob'],
  ['tutor', bob, alice, 'Message Alice'],
] as const)(
  '(%s) only the accepted request offers to write to the other person, and it opens their thread',
  async (_role, me, other, label) => {
    const { store, posted } = await requestsPage(me)
    await eventually(() => expect(buttonsOf(card('r1'))).toEqual([label]))
    expect(buttonsOf(card('r2'))).not.toContain(label)
    expect(buttonsOf(card('r3'))).toEqual([])
    const button = [...card('r1').querySelectorAll('button')].find((b) => b.textContent === label)!
    button.focus()
    act(() => button.click())
    const composer = await eventually(() => {
      const found = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
      expect(found).not.toBeNull()
      expect(document.activeElement).toBe(found)
      return found!
    })
    expect(window.location.hash).toBe('#/messages/c9')
    expect(posted).toEqual([{ participantId: other.id }])
    expect(page.container.querySelector(`label[for="${composer.id}"]`)!.textContent).toBe(`Message to ${other.name}`)
    store.dispose()
  },
)

test('(fr) the button says it in French', async () => {
  localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
  const { store } = await requestsPage(alice)
  await eventually(() => expect(buttonsOf(card('r1'))).toEqual(['Écrire à Bob']))
  store.dispose()
})

test('while it is asked for, the button says so and keeps focus; a refusal is said, not swallowed', async () => {
  let answer: (response: Response) => void = () => {}
  const { store, posted } = await requestsPage(
    bob,
    () =>
      new Promise<Response>((resolve) => {
        answer = resolve
      }),
  )
  const button = await eventually(() => {
    const found = card('r1').querySelector('button')
    expect(found?.textContent).toBe('Message Alice')
    return found!
  })
  button.focus()
  act(() => button.click())
  await eventually(() => expect(button.textContent).toBe('Opening the conversation with Alice…'))
  expect(button.getAttribute('aria-disabled')).toBe('true')
  // A second press while the first runs asks for nothing more.
  act(() => button.click())
  await eventually(() => expect(posted).toHaveLength(1))
  await act(async () => answer(json(500, { error: { code: 'INTERNAL', message: 'boom' } })))
  await eventually(() =>
    expect(card('r1').querySelector('[role=alert]')?.textContent).toBe(
      'The server ran into a problem. Please try again.',
    ),
  )
  expect(button.textContent).toBe('Message Alice')
  expect(button.getAttribute('aria-disabled')).toBeNull()
  expect(document.activeElement).toBe(button)
  expect(window.location.hash).toBe('#/contact-requests')
  expect(posted).toHaveLength(1)
  store.dispose()
})

test('gone to another page while the conversation was asked for: the answer does not take the user back', async () => {
  let answer: (response: Response) => void = () => {}
  const { store } = await requestsPage(
    alice,
    () =>
      new Promise<Response>((resolve) => {
        answer = resolve
      }),
  )
  const button = await eventually(() => {
    const found = card('r1').querySelector('button')
    expect(found?.textContent).toBe('Message Bob')
    return found!
  })
  act(() => button.click())
  await eventually(() => expect(button.textContent).toBe('Opening the conversation with Bob…'))
  act(() => {
    window.location.hash = '#/lessons'
  })
  await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Lessons'))
  await act(async () => answer(json(201, conversation('c9'))))
  // Listed once answered (the Messages link's count follows it), and the user still where they went.
  await eventually(() =>
    expect(store.getState().api.queries['getConversations(undefined)']?.data).toEqual([conversation('c9')]),
  )
  expect(window.location.hash).toBe('#/lessons')
  expect(page.container.querySelector('h1')?.textContent).toBe('Lessons')
  store.dispose()
})

test.each([
  ['en', 'Message Alice', 'You can no longer write to Alice here.'],
  ['fr', 'Écrire à Alice', 'Il n’est plus possible d’écrire à Alice ici.'],
] as const)(
  '(%s) the other person gone from the server (404): the card says who cannot be written to, and offers it no more',
  async (locale, label, said) => {
    // Alice's account gone (a restore from an earlier copy): the server answers 'user not found'.
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, posted } = await requestsPage(bob, () =>
      json(404, { error: { code: 'NOT_FOUND', message: 'user not found' } }),
    )
    const button = await eventually(() => {
      const found = card('r1').querySelector('button')
      expect(found?.textContent).toBe(label)
      return found!
    })
    button.focus()
    act(() => button.click())
    await eventually(() => expect(posted).toHaveLength(1))
    await eventually(() => expect(card('r1').querySelector('[role=alert]')?.textContent).toBe(said))
    expect(window.location.hash).toBe('#/contact-requests')
    // Each press would be refused the same way: the button goes, and the keyboard user's place stays on the card.
    expect(buttonsOf(card('r1'))).toEqual([])
    expect(document.activeElement).toBe(card('r1'))
    store.dispose()
  },
)
