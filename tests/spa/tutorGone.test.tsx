// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// A tutor the page lists whom the server no longer has (their account gone, a restore from an earlier copy): the
// server answers a contact request or a booking NOT_FOUND 'tutor not found'. Each form said only "That is no longer
// there." under it, not what "that" was, nor where to fix it; it is said on the tutor field, naming the tutor, in the
// user's language, and the user's place goes there. Another tutor goes.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const dora: User = { id: 'u-dora', name: 'Dora', role: 'tutor' }

const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const fieldError = (select: HTMLSelectElement) => {
  const id = select.getAttribute('aria-describedby')
  return id ? document.getElementById(id)?.textContent : undefined
}

/** Each form: its page, where it posts, its other field (label by language) and what it answers a good one with. */
const forms = {
  request: {
    hash: '#/contact-requests',
    path: '/api/contact-requests',
    field: { en: 'Message', fr: 'Message' },
    made: (body: Record<string, string>) => contactRequest('r2', { tutorId: body.tutorId, message: body.message }),
  },
  booking: {
    hash: '#/lessons',
    path: '/api/lessons',
    field: { en: 'Subject', fr: 'Matière' },
    made: (body: Record<string, string>) =>
      lesson('l2', { tutorId: body.tutorId, subject: body.subject, startsAt: body.startsAt }),
  },
} as const

test.each([
  ['request', 'en', 'Tutor', 'Tutor: Carol can no longer be contacted here; choose another tutor.'],
  [
    'request',
    'fr',
    'Tuteur',
    'Tuteur\u202f: il n’est plus possible de contacter Carol ici\u202f; choisissez un autre tuteur.',
  ],
  ['booking', 'en', 'Tutor', 'Tutor: Carol can no longer be booked here; choose another tutor.'],
  [
    'booking',
    'fr',
    'Tuteur',
    'Tuteur\u202f: il n’est plus possible de réserver un cours avec Carol ici\u202f; choisissez un autre tuteur.',
  ],
] as const)(
  '(%s, %s) a tutor the server no longer has is said on the tutor field',
  async (kind, locale, tutorLabel, said) => {
    const form = forms[kind]
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    window.history.replaceState(null, '', form.hash)
    const posted: unknown[] = []
    const fetchFn = apiRoutes(async (method, path, request) => {
      if (path === '/api/users') return json(200, [alice, carol, dora])
      if (path === form.path && method === 'POST') {
        const body = (await request.json()) as Record<string, string>
        posted.push(body)
        if (body.tutorId === carol.id) return json(404, { error: { code: 'NOT_FOUND', message: 'tutor not found' } })
        return json(201, form.made(body))
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
    type(fieldLabelled(page.container, form.field[locale]) as HTMLInputElement, 'Algebra')
    act(() => select.closest('form')!.requestSubmit())
    await eventually(() => expect(posted).toHaveLength(1))
    await eventually(() => expect(fieldError(select)).toBe(said))
    expect(select.getAttribute('aria-invalid')).toBe('true')
    expect(document.activeElement).toBe(select)
    // Said once, on the field: not again under the form.
    expect(select.closest('section')!.querySelectorAll('[role=alert]')).toHaveLength(1)
    // Sent again with the same tutor, it would be refused the same way: the button is disabled, and asks for nothing.
    const submitButton = select.closest('form')!.querySelector<HTMLButtonElement>('button[type=submit]')!
    expect(submitButton.getAttribute('aria-disabled')).toBe('true')
    submitButton.focus()
    act(() => select.closest('form')!.requestSubmit())
    expect(fieldError(select)).toBe(said)
    expect(document.activeElement).toBe(select)
    expect(posted).toHaveLength(1)
    // Another tutor: the field's refusal goes with the choice, and the form is sent.
    choose(dora)
    expect(select.getAttribute('aria-invalid')).toBeNull()
    act(() => select.closest('form')!.requestSubmit())
    await eventually(() => expect(posted).toHaveLength(2))
    await eventually(() => expect(page.container.querySelector('section [role=status]')!.textContent).not.toBe(''))
    expect(fieldError(select)).toBeUndefined()
    store.dispose()
  },
)
