// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// The server keeps one pending request per student and tutor (`INVALID` naming `tutorId`). A student who asks a tutor
// she is already waiting on is told so on the tutor field, in her language, and her place goes there: before, the
// page sent it and said only "That was not accepted. Check what you entered." under the form.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }

/** Alice's requests as the server has them (`listed`); the POSTs are recorded, and answered with `answer`. */
function requestsApi(listed: unknown[], answer: (body: { tutorId: string; message: string }) => Response) {
  const posted: unknown[] = []
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (path === '/api/users') return json(200, [alice, bob, carol])
    if (path === '/api/contact-requests' && method === 'POST') {
      const body = (await request.json()) as { tutorId: string; message: string }
      posted.push(body)
      return answer(body)
    }
    if (path === '/api/contact-requests') return json(200, listed)
    return json(200, [])
  })
  return { posted, fetchFn }
}

const page = pagePerTest('#/contact-requests')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** The request form filled for `tutor` and submitted. */
async function ask(tutor: User, message: string, tutorLabel: string, messageLabel: string) {
  const select = fieldLabelled(page.container, tutorLabel, HTMLSelectElement)
  await eventually(() => expect([...select.options].map((o) => o.value)).toContain(tutor.id))
  act(() => {
    select.value = tutor.id
    select.dispatchEvent(new Event('change', { bubbles: true }))
  })
  type(fieldLabelled(page.container, messageLabel, HTMLTextAreaElement), message)
  act(() => select.closest('form')!.requestSubmit())
  return select
}

const fieldError = (select: HTMLSelectElement) => {
  const id = select.getAttribute('aria-describedby')
  return id ? document.getElementById(id)?.textContent : undefined
}

test.each([
  [
    'en',
    'Tutor',
    'Message',
    'Tutor: your request to Bob is still waiting for an answer; you can ask again once it is answered.',
  ],
  [
    'fr',
    'Tuteur',
    'Message',
    'Tuteur\u202f: votre demande à Bob attend encore une réponse\u202f; vous pourrez en envoyer une autre ensuite.',
  ],
] as const)(
  '(%s) asking a tutor whose answer she is still waiting for is said on the tutor field, and nothing is sent; another tutor goes',
  async (locale, tutorLabel, messageLabel, said) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { posted, fetchFn } = requestsApi([contactRequest('r1', { status: 'pending' })], (body) =>
      json(201, contactRequest('r2', { tutorId: body.tutorId, message: body.message })),
    )
    const { store } = appStore(fetchFn)
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=contact-request]')).toHaveLength(1))
    const select = await ask(bob, 'Are you there?', tutorLabel, messageLabel)
    await eventually(() => expect(fieldError(select)).toBe(said))
    expect(select.getAttribute('aria-invalid')).toBe('true')
    expect(document.activeElement).toBe(select)
    expect(posted).toEqual([])
    // Another tutor: the field's refusal goes with the choice, and the request is sent.
    await ask(carol, 'Spanish, please', tutorLabel, messageLabel)
    expect(select.getAttribute('aria-invalid')).toBeNull()
    await eventually(() => expect(posted).toEqual([{ tutorId: carol.id, message: 'Spanish, please' }]))
    store.dispose()
  },
)

test("the server's refusal (asked meanwhile from another tab) is said on the tutor field, not as a form error", async () => {
  const { posted, fetchFn } = requestsApi([], () =>
    json(400, { error: { code: 'INVALID', message: 'tutorId: a request to this tutor is already pending' } }),
  )
  const { store } = appStore(fetchFn)
  renderApp(page.root, store)
  const select = await ask(bob, 'Are you there?', 'Tutor', 'Message')
  await eventually(() => expect(posted).toHaveLength(1))
  await eventually(() => expect(fieldError(select)).toMatch(/^Tutor: your request to Bob is still waiting/))
  expect(document.activeElement).toBe(select)
  expect(page.container.textContent).not.toContain('That was not accepted')
  store.dispose()
})

// Told her request to Bob is still waiting, she stays on the form; Bob answers it meanwhile. The card says so, and the
// tutor field kept saying "still waiting for an answer", though she could now ask again (and a send would go).
test.each([
  ['declined', 'listed'],
  ['accepted', 'listed'],
  ['declined', 'told by the server'],
] as const)(
  'the tutor’s answer (%s) to the request she waits on takes the field’s refusal away (%s)',
  async (status, how) => {
    const earlier = contactRequest('r0', { status: 'declined', updatedAt: '2026-11-20T08:00:00.000Z' })
    const waitedOn = contactRequest('r1', { status: 'pending' })
    // As the server has them (a read after the other tab's request lists it too).
    const listed = how === 'listed' ? [earlier, waitedOn] : [earlier]
    const { fetchFn } = requestsApi(listed, () =>
      json(400, { error: { code: 'INVALID', message: 'tutorId: a request to this tutor is already pending' } }),
    )
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    const cards = () => page.container.querySelectorAll('[data-testid=contact-request]')
    await eventually(() => expect(cards().length).toBeGreaterThan(0))
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    const select = await ask(bob, 'Are you there?', 'Tutor', 'Message')
    await eventually(() => expect(fieldError(select)).toMatch(/^Tutor: your request to Bob is still waiting/))
    if (how === 'told by the server') {
      // Asked from another tab: its card comes by its event, the refusal still said.
      listed.push(waitedOn)
      act(() => sockets.last.serverEmit('contactRequest:created', waitedOn, { offset: 2 }))
      await eventually(() => expect(cards()).toHaveLength(2))
      expect(fieldError(select)).toMatch(/^Tutor: your request to Bob is still waiting/)
    }

    const offset = how === 'listed' ? 2 : 3
    const answered = { ...waitedOn, status, updatedAt: '2026-11-24T09:00:00.000Z' }
    listed.splice(listed.indexOf(waitedOn), 1, answered)
    act(() => sockets.last.serverEmit('contactRequest:statusUpdated', answered, { offset }))
    await eventually(() =>
      expect(
        page.container.querySelector('[data-request-id=r1] [data-testid=contact-request-status]')!.textContent,
      ).toBe(status),
    )
    expect(fieldError(select)).toBeUndefined()
    expect(select.getAttribute('aria-invalid')).toBeNull()
    store.dispose()
  },
)
