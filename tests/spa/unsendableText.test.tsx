// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { pagePerTest, politeSaid, saidIn, threadWithFocusedComposer, type } from './support/page'

// A NUL pasted in with the text (a terminal's output, a PDF's) is kept by the browser's textarea, and invisible. The
// server refuses any message holding one, as it does half of a surrogate pair: the composer used to send it all the
// same, emptied itself, and the message failed at once as "That was not accepted. Check what you entered." with a
// Retry that could only fail the same way; the text was gone from the composer. It is said on the field, as a draft
// over the limit is, and the draft stays.

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** Enter pressed in `field`, once what it said has reached the live regions' observers. */
async function pressEnter(field: HTMLElement) {
  act(() => {
    field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
  })
  await act(async () => {})
}

const WORDS = {
  en: 'This text holds an invisible character that cannot be sent (a control character, often pasted in with the text): delete it, or type that part again.',
  fr: 'Ce texte contient un caractère invisible qui ne peut pas être envoyé (un caractère de contrôle, souvent collé avec le texte)\u202f: supprimez-le, ou retapez ce passage.',
} as const

describe('a draft holding a character the server refuses (NUL, half of a surrogate pair)', () => {
  test.each([
    ['en', 'Here is the output:\u0000 42', 'Here is the output: 42'],
    ['fr', 'Voici le résultat\u202f:\u0000 42', 'Voici le résultat\u202f: 42'],
    ['en', 'broken emoji \uD83D here', 'broken emoji here'],
  ] as const)('(%s) %j is said on the field, not sent, and the draft stays', async (locale, draft, fixed) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const polite = politeSaid()
    const assertive = saidIn('[data-testid=announcer-assertive]')
    type(composer, draft)
    const words = WORDS[locale]

    // Enter sends nothing: no emit, no failed copy in the thread, and the text is still there to fix.
    await pressEnter(composer)
    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1)
    expect(composer.value).toBe(draft)
    expect(document.activeElement).toBe(composer)
    // Said once as the draft got it, again at the press, and in the field's description, which marks it invalid.
    await eventually(() => expect(polite).toEqual([words]))
    expect(assertive).toEqual([words])
    const described = (composer.getAttribute('aria-describedby') ?? '').split(/\s+/)
    expect(described.map((id) => document.getElementById(id)?.textContent)).toContain(words)
    expect(composer.getAttribute('aria-invalid')).toBe('true')
    expect(page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.disabled).toBe(true)

    // Fixed, it goes as typed.
    type(composer, fixed)
    expect(composer.hasAttribute('aria-invalid')).toBe(false)
    await pressEnter(composer)
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    expect(sockets.last.sent('message:send')[0]!.args[0]).toMatchObject({ content: fixed.trim() })
    expect(composer.value).toBe('')
    store.dispose()
  })
})
