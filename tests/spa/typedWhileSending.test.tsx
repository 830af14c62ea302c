// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type, tutorChosen } from './support/page'

// The forms stay editable while their request is out (only the button waits). A student who starts on her next
// booking (or request) before the answer to this one comes had what she typed meanwhile wiped by that answer: the
// field was emptied once sent, whatever it said by then. The lost-answer path already kept text typed since.

const page = pagePerTest()
const tutor = { ...bob, role: 'tutor' as const }

test.each([
  ['the booking form', '#/lessons', 'Subject'],
  ['the contact-request form', '#/contact-requests', 'Message'],
] as const)('%s: what the user typed while the request was out stays once it is answered', async (_, hash, label) => {
  let answer: () => void = () => {}
  const answered = new Promise<void>((resolve) => {
    answer = resolve
  })
  let posted = false
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (path === '/api/users') return json(200, [alice, tutor])
    if (method !== 'POST') return json(200, [])
    const body = (await request.json()) as Record<string, unknown>
    posted = true
    await answered
    return path === '/api/lessons'
      ? json(201, lesson('l1', { subject: String(body.subject) }))
      : json(201, contactRequest('r1', { message: String(body.message) }))
  })
  window.history.replaceState(null, '', hash)
  const { store } = appStore(fetchFn)
  renderApp(page.root, store)
  const select = await tutorChosen(page.container, tutor.id)
  const field = fieldLabelled(page.container, label) as HTMLInputElement | HTMLTextAreaElement
  type(field, 'Algebra')
  act(() => select.closest('form')!.requestSubmit())
  await eventually(() => expect(posted).toBe(true))
  type(field, 'Geometry, next week')
  await act(async () => answer())
  // Answered: the form says so.
  await eventually(() => expect(page.container.querySelector('.form-ok')).not.toBeNull())
  expect(field.value).toBe('Geometry, next week')
  store.dispose()
})
