// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { trackedStore } from '../support/trackedStores'
import { fakeSockets } from '../unit/support/fakeSocket'
import { blockPageStorage, pagePerTest, renderApp } from './support/page'

// A browser that refuses the site its storage (Chromium with sites' data blocked): `localStorage` throws on access.

const page = pagePerTest()
let unblock: (() => void) | null = null
afterEach(() => {
  unblock?.()
  unblock = null
})

describe('a page whose storage is blocked', () => {
  test('still shows the app, and the language switch still works (for this page)', () => {
    unblock = blockPageStorage()
    const store = trackedStore({ apiUrl: 'http://api.test', createSocket: fakeSockets().createSocket })
    renderApp(page.root, store)
    const lead = () => page.container.querySelector('.login-lead')?.textContent
    expect(page.container.querySelector('h1')?.textContent).toMatch(/Talemy/)
    const english = lead()
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-fr]')!.click())
    expect(lead()).not.toBe(english)
    expect(document.documentElement.lang).toBe('fr')
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-en]')!.click())
    expect(lead()).toBe(english)
    store.dispose()
  })
})
