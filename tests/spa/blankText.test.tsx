// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
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

// Free text of only spaces (or of characters nobody sees) passes the browser's `required` check, yet it is no subject,
// no message; and a control character (a bell, an escape sequence, pasted in) the server refuses. The page says so, on
// the field, before anything goes to the server (which would refuse it with a vague INVALID, or say nothing at all).

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
      said: 'Message\u202f: écrivez quelques mots\u202f; des espaces seuls ne suffisent pas.',
    },
  ])('$hash ($locale): "$field" is named, on the field, and nothing is sent', async (c) => {
    await refusedBeforeSending({ ...c, typed: '   \n ' })
  })
})

describe('a form whose free text is only characters nobody sees', () => {
  test.each([
    {
      hash: '#/lessons',
      field: 'Subject',
      chars: 'zero-width space, word joiner',
      typed: '\u200B\u2060',
      said: 'Subject: type what the lesson is about; spaces alone are not a subject.',
    },
    {
      hash: '#/lessons',
      field: 'Subject',
      chars: 'soft hyphen, U+3000, NBSP, U+FEFF',
      typed: '\u00AD\u3000\u00A0\uFEFF',
      said: 'Subject: type what the lesson is about; spaces alone are not a subject.',
    },
    {
      hash: '#/contact-requests',
      field: 'Message',
      chars: 'ZWSP, line break, U+2060, soft hyphen',
      typed: '\u200B\n\u2060\u00AD',
      said: 'Message: write a few words to the tutor; spaces alone are not a message.',
    },
    {
      hash: '#/contact-requests',
      field: 'Message',
      chars: 'U+3000, U+FEFF, NBSP',
      typed: '\u3000\uFEFF\u00A0',
      said: 'Message: write a few words to the tutor; spaces alone are not a message.',
    },
  ])('$hash: $chars alone is said blank on "$field", and nothing is sent', async (c) => {
    await refusedBeforeSending({ ...c, locale: 'en', tutor: 'Tutor' })
  })
})

describe('a form whose free text holds a control character', () => {
  test.each([
    {
      locale: 'en',
      hash: '#/lessons',
      tutor: 'Tutor',
      field: 'Subject',
      typed: 'Geo\u0007metry',
      said: 'Subject: remove the invisible control characters, often pasted in with the text.',
    },
    {
      locale: 'fr',
      hash: '#/lessons',
      tutor: 'Tuteur',
      field: 'Matière',
      typed: '\u001b[2JGéométrie',
      said: 'Matière\u202f: retirez les caractères de contrôle invisibles, souvent collés avec le texte.',
    },
    {
      locale: 'en',
      hash: '#/contact-requests',
      tutor: 'Tutor',
      field: 'Message',
      typed: 'Hello \u001b[31mthere',
      said: 'Message: remove the invisible control characters, often pasted in with the text; tabs and line breaks are fine.',
    },
    {
      locale: 'fr',
      hash: '#/contact-requests',
      tutor: 'Tuteur',
      field: 'Message',
      typed: 'Bonjour,\n\tpouvons-nous commencer\u0085 lundi\u007f ?',
      said: 'Message\u202f: retirez les caractères de contrôle invisibles, souvent collés avec le texte\u202f; tabulations et retours à la ligne sont acceptés.',
    },
  ])('$hash ($locale): "$field" is named, on the field, and nothing is sent', async (c) => {
    await refusedBeforeSending(c)
  })
})

// Half of an emoji (a lone surrogate: a paste cut in the middle of one, as some tools cut text) the server refuses as
// it refuses a control character, and the composer says so for a message. The forms sent it, and were answered with
// "That was not accepted. Check what you entered." under the form, naming no field.
describe('a form whose free text holds half of an emoji (a lone surrogate)', () => {
  test.each([
    {
      locale: 'en',
      hash: '#/lessons',
      tutor: 'Tutor',
      field: 'Subject',
      typed: 'Maths \uD83D',
      said: 'Subject: remove the invisible control characters, often pasted in with the text.',
    },
    {
      locale: 'fr',
      hash: '#/contact-requests',
      tutor: 'Tuteur',
      field: 'Message',
      typed: 'Bonjour \uDE00 !',
      said: 'Message\u202f: retirez les caractères de contrôle invisibles, souvent collés avec le texte\u202f; tabulations et retours à la ligne sont acceptés.',
    },
  ])('$hash ($locale): "$field" is named, on the field, and nothing is sent', async (c) => {
    await refusedBeforeSending(c)
  })
})

/**
 * Picks the tutor, types `typed` in `field` and submits: the form passes the browser's own checks, yet the page says
 * `said` on the field and sends nothing; typing again takes the error away.
 */
async function refusedBeforeSending(c: {
  locale: string
  hash: string
  tutor: string
  field: string
  typed: string
  said: string
}): Promise<void> {
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
  type(text, c.typed)
  const form = text.closest('form')!
  expect(form.checkValidity()).toBe(true)
  act(() => form.requestSubmit())
  await act(async () => {})
  expect(errorOn(text)).toBe(c.said)
  expect(api.writes).toEqual([])
  type(text, 'Algebra')
  expect(text.hasAttribute('aria-invalid')).toBe(false)
  expect(page.container.querySelector('.form-error')).toBeNull()
  store.dispose()
}

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
  // Review: a draft of characters nobody sees (U+200B, a Hangul filler: the classic "blank message") passed the trim,
  // was sent, and showed both sides an empty bubble and an empty line in the conversation list.
  test.each([
    ['U+200B U+2060', '\u200B\u2060'],
    ['a soft hyphen and U+FEFF', ' \u00AD\uFEFF '],
    ['a Hangul filler', '\u3164'],
  ])('%s alone is blank too: Send is off, Enter says so and sends nothing', async (_chars, draft) => {
    window.history.replaceState(null, '', '#/messages/c1')
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    type(composer, draft)
    expect(page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.disabled).toBe(true)
    act(() => {
      composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
    })
    await act(async () => {})
    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1)
    expect(errorOn(composer)).toBe('Nothing to send: type a message; spaces alone are not sent.')
    expect(composer.value).toBe(draft)
    store.dispose()
  })
})
