// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { pagePerTest, threadWithFocusedComposer, type } from './support/page'

// Review: on a phone, Enter sent the message and only Shift+Enter started a new line, which a phone's on-screen keyboard
// has no way to press: a message of several lines could not be written there at all. Where the screen is touched (no
// pointer that hovers), Enter is the keyboard's own new line, and the Send button sends.

const page = pagePerTest('#/messages/c1')

/** A device whose only pointer is a finger: `(hover: none) and (pointer: coarse)` matches. */
function touchOnly(matches: boolean): () => void {
  const had = Object.getOwnPropertyDescriptor(window, 'matchMedia')
  Object.defineProperty(window, 'matchMedia', {
    configurable: true,
    value: (query: string) => ({
      matches: matches && query.includes('pointer: coarse'),
      media: query,
      addEventListener() {},
      removeEventListener() {},
    }),
  })
  return () => {
    if (had) Object.defineProperty(window, 'matchMedia', had)
    else delete (window as { matchMedia?: unknown }).matchMedia
  }
}
let restore = () => {}
afterEach(() => {
  restore()
  localStorage.removeItem(LOCALE_STORAGE_KEY)
})

/** Enter pressed in `field`; whether the page let the browser do what Enter does there (a new line). */
function pressEnter(field: HTMLElement): boolean {
  let allowed = true
  act(() => {
    allowed = field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
  })
  return allowed
}

describe('Enter in the composer on a touch screen', () => {
  test.each([
    ['en', 'Enter for a new line · Send sends'],
    ['fr', 'Entrée pour une nouvelle ligne · Envoyer envoie'],
  ] as const)('(%s) starts a new line and sends nothing; the Send button sends', async (locale, hint) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    restore = touchOnly(true)
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    type(composer, 'First line')
    expect(pressEnter(composer), 'Enter left to the keyboard (a new line)').toBe(true)
    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(composer.value).toBe('First line')
    // The on-screen keyboard's key says what it does.
    expect(composer.getAttribute('enterkeyhint')).toBe('enter')
    expect(page.container.querySelector('.composer-hint')!.textContent).toBe(hint)

    type(composer, 'First line\nSecond line')
    act(() => page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.click())
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    expect(sockets.last.sent('message:send')[0]!.args[0]).toMatchObject({ content: 'First line\nSecond line' })
    store.dispose()
  })

  test('with a mouse (a pointer that hovers), Enter still sends', async () => {
    restore = touchOnly(false)
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    type(composer, 'hello')
    expect(pressEnter(composer)).toBe(false)
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    expect(composer.getAttribute('enterkeyhint')).toBe('send')
    store.dispose()
  })
})
