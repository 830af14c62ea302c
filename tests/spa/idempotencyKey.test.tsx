// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type, tutorChosen } from './support/page'

// A booking whose answer was lost (the network dropped after the server committed it) shows an error, and the user
// presses the button again: that retry must carry the first attempt's Idempotency-Key, or the tutor gets two
// bookings. A new booking (after a success, or once the form says something else) is a new request with a new key.

const tutor = { ...bob, role: 'tutor' as const }

type Outcome = 'lost' | 'ok' | 'refused'

/** The pages' API: each POST gets the next of `outcomes` (then 'ok'), and is recorded with its key and body. */
function postsApi(outcomes: Outcome[]) {
  const posts: { key: string | null; body: Record<string, unknown> }[] = []
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (path === '/api/users') return json(200, [alice, tutor])
    if (method !== 'POST') return json(200, [])
    const body = (await request.json()) as Record<string, unknown>
    posts.push({ key: request.headers.get('idempotency-key'), body })
    const outcome = outcomes.shift() ?? 'ok'
    // The server committed it, but the answer never came back.
    if (outcome === 'lost') throw new TypeError('Failed to fetch')
    // Not NOT_FOUND 'tutor not found': the form asks nothing more of a tutor refused as gone (tutorGone.test.tsx).
    if (outcome === 'refused') return json(403, { error: { code: 'FORBIDDEN', message: 'not allowed' } })
    return path === '/api/lessons'
      ? json(201, lesson(`l${posts.length}`, { subject: String(body.subject) }))
      : // Answered at once, so the same tutor may be asked again (one pending request per student and tutor).
        json(201, contactRequest(`r${posts.length}`, { message: String(body.message), status: 'accepted' }))
  })
  return { posts, fetchFn }
}

const page = pagePerTest()

const FORMS = [
  ['the booking form', '#/lessons', 'Subject'],
  ['the contact-request form', '#/contact-requests', 'Message'],
] as const

/** `hash`'s page with the tutor chosen; `submit(text)` types `text` in the form's text field and sends the form. */
async function formAt(hash: string, label: string, outcomes: Outcome[]) {
  window.history.replaceState(null, '', hash)
  const api = postsApi(outcomes)
  const { store } = appStore(api.fetchFn)
  renderApp(page.root, store)
  const select = await tutorChosen(page.container, tutor.id)
  const field = fieldLabelled(page.container, label) as HTMLInputElement | HTMLTextAreaElement
  const submit = async (text?: string) => {
    const before = api.posts.length
    if (text !== undefined) type(field, text)
    act(() => select.closest('form')!.requestSubmit())
    await eventually(() => expect(api.posts).toHaveLength(before + 1))
    // Settled: the button is back to its word, the answer drawn.
    await eventually(() =>
      expect(select.closest('form')!.querySelector('button[type=submit]')!.hasAttribute('aria-disabled')).toBe(false),
    )
  }
  return { api, store, submit }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe.each(FORMS)('%s sends an Idempotency-Key', (_form, hash, label) => {
  test('the same one when the user sends again after a lost answer; a new one for the next request', async () => {
    const { api, store, submit } = await formAt(hash, label, ['lost', 'lost', 'ok'])
    await submit('first')
    await submit()
    await submit()
    const [lost, again, landed] = api.posts.map((post) => post.key)
    expect(lost).toMatch(UUID)
    expect([again, landed]).toEqual([lost, lost])
    // Succeeded: the next one is another request, even with the same words.
    await submit('first')
    await submit('second')
    const [next, other] = api.posts.slice(3).map((post) => post.key)
    expect(next).toMatch(UUID)
    expect(new Set([lost, next, other]).size).toBe(3)
    store.dispose()
  })

  // The form's fields wait while the user is on another page (drafts), so they come back to press the button again: the
  // key had stayed with the form that went, and the retry of a booking the server had kept made a second one.
  test('the same one when the user sends again after a lost answer and a visit to another page', async () => {
    const { api, store, submit } = await formAt(hash, label, ['lost', 'ok'])
    await submit('first')
    act(() => page.container.querySelector<HTMLAnchorElement>('[data-testid=nav-messages]')!.click())
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    act(() => {
      window.location.hash = hash
    })
    // As the user left it.
    const field = await eventually(() => fieldLabelled(page.container, label) as HTMLInputElement)
    expect(field.value).toBe('first')
    act(() => field.form!.requestSubmit())
    await eventually(() => expect(api.posts).toHaveLength(2))
    const [lost, again] = api.posts.map((post) => post.key)
    expect(again).toBe(lost)
    store.dispose()
  })

  test('a new one once the user changes what the form says after a failure', async () => {
    const { api, store, submit } = await formAt(hash, label, ['lost', 'refused', 'refused'])
    await submit('first')
    await submit('first, corrected')
    // Back to the first words: the first request again, which may have been kept.
    await submit('first')
    const [lost, corrected, back] = api.posts.map((post) => post.key)
    expect(corrected).not.toBe(lost)
    expect(back).toBe(lost)
    store.dispose()
  })
})
