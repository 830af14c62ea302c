// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// The booking form's side of requestTutorGone.test.tsx: a tutor the page lists whom the server no longer has is
// answered NOT_FOUND 'tutor not found', and the form said only "That is no longer there." under it. It is said on the
// tutor field, naming the tutor, in the user's language, and the user's place goes there. Another tutor goes.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const dora: User = { id: 'u-dora', name: 'Dora', role: 'tutor' }

const page = pagePerTest('#/lessons')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const fieldError = (select: HTMLSelectElement) => {
  const id = select.getAttribute('aria-describedby')
  return id ? document.getElementById(id)?.textContent : undefined
}

test.each([
  ['en', 'Tutor', 'Subject', 'Tutor: Carol can no longer be booked here; choose another tutor.'],
  [
    'fr',
    'Tuteur',
    'Matière',
    'Tuteur\u202f: il n’est plus possible de réserver une leçon avec Carol ici\u202f; choisissez un autre tuteur.',
  ],
] as const)(
  '(%s) a tutor the server no longer has is said on the tutor field',
  async (locale, tutorLabel, subjectLabel, said) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const posted: unknown[] = []
    const fetchFn = apiRoutes(async (method, path, request) => {
      if (path === '/api/users') return json(200, [alice, carol, dora])
      if (path === '/api/lessons' && method === 'POST') {
        const body = (await request.json()) as { tutorId: string; subject: string; startsAt: string }
        posted.push(body)
        if (body.tutorId === carol.id) return json(404, { error: { code: 'NOT_FOUND', message: 'tutor not found' } })
        return json(201, lesson('l2', { tutorId: body.tutorId, subject: body.subject, startsAt: body.startsAt }))
      }
      return json(200, [])
    })
    const { store } = appStore(fetchFn)
    renderApp(page.root, store)
    const select = fieldLabelled(page.container, tutorLabel, HTMLSelectElement)
    const choose = (tutor: User) => {
      act(() => {
        select.value = tutor.id
        select.dispatchEvent(new Event('change', { bubbles: true }))
      })
    }
    await eventually(() => expect([...select.options].map((o) => o.value)).toContain(carol.id))
    choose(carol)
    type(fieldLabelled(page.container, subjectLabel, HTMLInputElement), 'Algebra')
    act(() => select.closest('form')!.requestSubmit())
    await eventually(() => expect(posted).toHaveLength(1))
    await eventually(() => expect(fieldError(select)).toBe(said))
    expect(select.getAttribute('aria-invalid')).toBe('true')
    expect(document.activeElement).toBe(select)
    // Said once, on the field: not again under the form.
    expect(select.closest('section')!.querySelectorAll('[role=alert]')).toHaveLength(1)
    // Another tutor: the field's refusal goes with the choice, and the lesson is booked.
    choose(dora)
    expect(select.getAttribute('aria-invalid')).toBeNull()
    act(() => select.closest('form')!.requestSubmit())
    await eventually(() => expect(posted).toHaveLength(2))
    expect(fieldError(select)).toBeUndefined()
    store.dispose()
  },
)
