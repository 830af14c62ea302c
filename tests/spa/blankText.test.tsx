// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from '../unit/support/eventually'
import { alice, bob } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  fieldLabelled,
  json,
  pagePerTest,
  renderApp,
  threadWithFocusedComposer,
  type,
} from './support/page'

// Free text of only spaces passes the browser's `required` check, yet it is no subject, no message: the page says so,
// on the field, before anything goes to the server (which would refuse it with a vague INVALID, or say nothing at all).

const tutor = { ...bob, role: 'tutor' as const }

/** The API of the lessons and contact-request pages, recording every write. */
function pagesApi() {
  const writes: string[] = []
  const fetchFn = apiRoutes((method, path) => {
    if (method !== 'GET') {
      writes.push(`${method} ${path}`)
      return json(400, { error: { code: 'INVALID', message: 'subject: must not be empty' } })
    }
    if (path === '/api/users') return json(200, [alice, tutor])
    return json(200, [])
  })
  return { writes, fetchFn }
}

const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** The error said on `field`: present, tied to it for assistive tech, focus on the field. */
function errorOn(field: HTMLElement): string {
  expect(field.getAttribute('aria-invalid')).toBe('true')
  const ids = (field.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean)
  const said = ids.map((id) => document.getElementById(id)).filter((el) => el?.classList.contains('form-error'))
  expect(said).toHaveLength(1)
  expect(document.activeElement).toBe(field)
  return said[0]!.textContent ?? ''
}

describe('a form whose free text is only spaces', () => {
  test.each([
    {
      locale: 'en',
      hash: '#/lessons',
      tutor: 'Tutor',
      field: 'Subject',
      said: 'Subject: type what the lesson is about; spaces alone are not a subject.',
    },
    {
      locale: 'fr',
      hash: '#/lessons',
      tutor: 'Tuteur',
      field: 'Matière',
      said: 'Matière\u202f: indiquez le sujet du cours\u202f; des espaces seuls ne suffisent pas.',
    },
    {
      locale: 'en',
      hash: '#/contact-requests',
      tutor: 'Tutor',
      field: 'Message',
      said: 'Message: write a few words to the tutor; spaces alone are not a message.',
    },
    {
      locale: 'fr',
      hash: '#/contact-requests',
      tutor: 'Tuteur',
      field: 'Message',
      said: 'Message\u202f: écrivez quelques mots au tuteur\u202f; des espaces seuls ne suffisent pas.',
    },
  ])('$hash ($locale): "$field" is named, on the field, and nothing is sent', async (c) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, c.locale)
    window.history.replaceState(null, '', c.hash)
    const api = pagesApi()
    const { store } = appStore(api.fetchFn)
    renderApp(page.root, store)
    await eventually(() => expect(fieldLabelled(page.container, c.tutor, HTMLSelectElement).options.length).toBe(2))
    const select = fieldLabelled(page.container, c.tutor, HTMLSelectElement)
    act(() => {
      select.value = tutor.id
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
    const text = fieldLabelled(page.container, c.field) as HTMLInputElement | HTMLTextAreaElement
    type(text, '   \n ')
    const form = text.closest('form')!
    expect(form.checkValidity()).toBe(true)
    act(() => form.requestSubmit())
    await act(async () => {})
    expect(errorOn(text)).toBe(c.said)
    expect(api.writes).toEqual([])
    // Typing again takes the error away.
    type(text, 'Algebra')
    expect(text.hasAttribute('aria-invalid')).toBe(false)
    expect(page.container.querySelector('.form-error')).toBeNull()
    store.dispose()
  })
})

describe('the chat composer with only spaces', () => {
  test('says the message is blank on Enter, on the field, and sends nothing', async () => {
    window.history.replaceState(null, '', '#/messages/c1')
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    type(composer, '   ')
    act(() => {
      composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
    })
    expect(errorOn(composer)).toBe('Nothing to send: type a message; spaces alone are not sent.')
    expect(sockets.last.sent('message:send')).toHaveLength(0)
    type(composer, 'hello')
    expect(composer.hasAttribute('aria-invalid')).toBe(false)
    store.dispose()
  })
})
