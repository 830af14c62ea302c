// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp } from './support/page'

// Someone the messages page lists whom the server no longer has (their account gone, a restore from an earlier copy):
// the server answers "Start" NOT_FOUND 'user not found'. The page said only "That is no longer there." under the
// picker, not what "that" was, nor what to do, as the tutor fields of the booking and contact forms did before
// (tutorGone.test.tsx); it is said on the "Write to" field, naming the person, in the user's language, and the user's
// place goes there. Another choice takes it away.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const dora: User = { id: 'u-dora', name: 'Dora', role: 'tutor' }

const page = pagePerTest('#/messages')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const fieldError = (select: HTMLSelectElement) => {
  const id = select.getAttribute('aria-describedby')
  return id ? document.getElementById(id)?.textContent : undefined
}

test.each([
  ['en', 'Write to', 'Write to: Carol can no longer be written to here; choose someone else.'],
  [
    'fr',
    'Écrire à',
    'Écrire à\u202f: il n’est plus possible d’écrire à Carol ici\u202f; choisissez une autre personne.',
  ],
] as const)('(%s) a person the server no longer has is said on the "Write to" field', async (locale, label, said) => {
  localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  const posted: string[] = []
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (path === '/api/users') return json(200, [alice, carol, dora])
    if (path === '/api/conversations' && method === 'POST') {
      const { participantId } = (await request.json()) as { participantId: string }
      posted.push(participantId)
      if (participantId === carol.id) return json(404, { error: { code: 'NOT_FOUND', message: 'user not found' } })
      return json(201, conversation('c2', { participantIds: [alice.id, participantId] }))
    }
    return json(200, [])
  })
  const { store } = appStore(fetchFn)
  renderApp(page.root, store)
  const select = fieldLabelled(page.container, label, HTMLSelectElement)
  const choose = (person: User) => {
    act(() => {
      select.value = person.id
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
  }
  await eventually(() => expect([...select.options].map((o) => o.value)).toContain(carol.id))
  choose(carol)
  act(() => select.form!.requestSubmit())
  await eventually(() => expect(posted).toEqual([carol.id]))
  await eventually(() => expect(fieldError(select)).toBe(said))
  expect(select.getAttribute('aria-invalid')).toBe('true')
  expect(document.activeElement).toBe(select)
  // Said once, on the field: not again under the form.
  expect(select.form!.querySelectorAll('[role=alert]')).toHaveLength(1)
  // Start again with the same person would be refused the same way: it is disabled, and asks for nothing.
  const startButton = select.form!.querySelector<HTMLButtonElement>('button[type=submit]')!
  expect(startButton.getAttribute('aria-disabled')).toBe('true')
  startButton.focus()
  act(() => select.form!.requestSubmit())
  expect(fieldError(select)).toBe(said)
  expect(document.activeElement).toBe(select)
  expect(posted).toEqual([carol.id])
  // Another person: the field's refusal goes with the choice.
  choose(dora)
  expect(select.getAttribute('aria-invalid')).toBeNull()
  expect(fieldError(select)).toBeUndefined()
  store.dispose()
})
