// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { MAX_CONTACT_MESSAGE_LENGTH, MAX_LESSON_SUBJECT_LENGTH } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { alice, bob } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// The contract's limits are in characters (an emoji is one), as the server counts them. The forms' fields used to carry
// HTML's `maxlength`, which counts UTF-16 units (an emoji is two): Chromium cut a subject of 150 emoji at 100 as it was
// typed or pasted, though the server takes 200, and cut a pasted text over the limit without a word, the rest of it
// lost. The fields now take what is typed, and a text over the limit is said on the field, with its length, and not sent.

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** The API of the lessons and contact-request pages, recording the body of every write (refused, as it matters not). */
function pagesApi() {
  const writes: Record<string, unknown>[] = []
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (method !== 'GET') {
      writes.push((await request.json()) as Record<string, unknown>)
      return json(400, { error: { code: 'INVALID', message: 'refused by the test' } })
    }
    if (path === '/api/users') return json(200, [alice, tutor])
    return json(200, [])
  })
  return { writes, fetchFn }
}

const FORMS = [
  { hash: '#/lessons', field: 'Subject', champ: 'Matière', max: MAX_LESSON_SUBJECT_LENGTH, key: 'subject' },
  { hash: '#/contact-requests', field: 'Message', champ: 'Message', max: MAX_CONTACT_MESSAGE_LENGTH, key: 'message' },
] as const

async function openForm(form: (typeof FORMS)[number], locale: 'en' | 'fr') {
  localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  window.history.replaceState(null, '', form.hash)
  const api = pagesApi()
  const { store } = appStore(api.fetchFn)
  renderApp(page.root, store)
  const tutorLabel = locale === 'en' ? 'Tutor' : 'Tuteur'
  await eventually(() => expect(fieldLabelled(page.container, tutorLabel, HTMLSelectElement).options.length).toBe(2))
  const select = fieldLabelled(page.container, tutorLabel, HTMLSelectElement)
  act(() => {
    select.value = tutor.id
    select.dispatchEvent(new Event('change', { bubbles: true }))
  })
  const text = fieldLabelled(page.container, locale === 'en' ? form.field : form.champ) as
    | HTMLInputElement
    | HTMLTextAreaElement
  const submit = async () => {
    act(() => text.closest('form')!.requestSubmit())
    await act(async () => {})
  }
  return { api, store, text, submit }
}

describe.each(FORMS)('$hash: the "$field" field', (form) => {
  test('lets the browser take as many emoji as the server accepts, and sends them whole', async () => {
    const { api, store, text, submit } = await openForm(form, 'en')
    // HTML's maxlength is in UTF-16 units: the browser would stop typing and cut pastes at half as many emoji.
    expect(text.maxLength === -1 || text.maxLength >= 2 * form.max).toBe(true)
    const emoji = '😀'.repeat(form.max)
    type(text, emoji)
    await submit()
    expect(text.hasAttribute('aria-invalid')).toBe(false)
    await eventually(() => expect(api.writes).toHaveLength(1))
    expect(api.writes[0]![form.key]).toBe(emoji)
    store.dispose()
  })

  test.each([
    [
      'en',
      (n: number, max: number) =>
        `${form.field}: ${n.toLocaleString('en')} characters, at most ${max.toLocaleString('en')}; shorten it.`,
    ],
    [
      'fr',
      (n: number, max: number) =>
        `${form.champ}\u202f: ${n.toLocaleString('fr')} caractères, ${max.toLocaleString('fr')} au plus\u202f; raccourcissez-l${form.key === 'subject' ? 'a' : 'e'}.`,
    ],
  ] as const)(
    '(%s) says a text one character over the limit on the field, with its length, and sends nothing',
    async (locale, words) => {
      const { api, store, text, submit } = await openForm(form, locale)
      const over = `${'é'.repeat(form.max - 1)}😀😀`
      type(text, over)
      await submit()
      expect(text.getAttribute('aria-invalid')).toBe('true')
      expect(document.activeElement).toBe(text)
      const said = (text.getAttribute('aria-describedby') ?? '')
        .split(/\s+/)
        .map((id) => document.getElementById(id))
        .filter((el) => el?.classList.contains('form-error'))
      expect(said.map((el) => el!.textContent)).toEqual([words(form.max + 1, form.max)])
      expect(api.writes).toEqual([])
      // The text stays to be shortened; once it is, the error goes and it is sent.
      expect(text.value).toBe(over)
      const shortened = over.slice(0, -2) // one emoji fewer: the limit exactly
      type(text, shortened)
      expect(text.hasAttribute('aria-invalid')).toBe(false)
      await submit()
      await eventually(() => expect(api.writes).toHaveLength(1))
      expect(api.writes[0]![form.key]).toBe(shortened)
      store.dispose()
    },
  )
})
