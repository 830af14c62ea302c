// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { bob, contactRequest, lesson } from '../unit/support/fixtures'
import { messagesPageWithToasts, pagePerTest } from './support/page'

// WCAG 2.4.6 / 4.1.2: with two toasts on screen, a screen reader heard "Dismiss, button" twice and could not tell which
// closed what. Each close button is named by what it closes.

const page = pagePerTest()
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

async function twoToastsForBob() {
  const { store } = await messagesPageWithToasts(page, bob)
  act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l1', { subject: 'Algebra' }))))
  act(() => void store.dispatch(serverEventActions['contactRequest:created'](contactRequest('r1'))))
  const toasts = await eventually(() => {
    const found = [...page.container.querySelectorAll<HTMLElement>('[data-testid=toast]')]
    expect(found).toHaveLength(2)
    // The request's toast names its student once the people are read.
    expect(found[1]!.textContent).toMatch(/Alice/)
    return found
  })
  return {
    store,
    names: toasts.map((toast) => toast.querySelector('button')!.getAttribute('aria-label')),
    texts: toasts.map((toast) => toast.querySelector('a')!.textContent),
  }
}

describe('each toast’s close button says which toast it closes', () => {
  test('in English', async () => {
    const { store, names, texts } = await twoToastsForBob()
    expect(texts).toEqual(['New lesson request from Alice: Algebra', 'New contact request from Alice'])
    expect(names).toEqual([
      'Dismiss: New lesson request from Alice: Algebra',
      'Dismiss: New contact request from Alice',
    ])
    store.dispose()
  })

  test('in French, with its typography', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const { store, names, texts } = await twoToastsForBob()
    expect(names).toEqual(texts.map((text) => `Fermer\u202f: ${text}`))
    store.dispose()
  })
})
