// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { MAX_CONTENT_LENGTH } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { bob, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { appStore, pagePerTest, politeSaid, renderApp, saidIn, threadApi, type } from './support/page'

// The hidden live regions keep the last sentences they said, for a reader going through the page to its end. After
// the user switched to French they still held them in English ("New message from Bob: …", "4,001 / 4,000 characters:
// too long"), in a page whose <html lang> now says French: read out with a French voice, and no longer the page's
// words. They are emptied on a change of language, and nothing is said again.

const page = pagePerTest('#/messages/c1')
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

const region = (name: 'polite' | 'assertive') => page.container.querySelector(`[data-testid=announcer-${name}]`)!

describe('the live regions after a change of language', () => {
  test('hold nothing of what they said in the language before, and say nothing again', async () => {
    const { store, sockets } = appStore(threadApi, { realtime: { invalidationWindowMs: 0 } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    act(() => sockets.last.serverEmit('message:new', message(2, { senderId: bob.id, content: 'hello' }), { offset: 2 }))
    await eventually(() => expect(region('polite').textContent).toContain('New message from Bob: hello'))
    const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
    type(composer, 'x'.repeat(MAX_CONTENT_LENGTH + 1))
    await eventually(() => expect(region('polite').textContent).toContain('too long'))
    const said = [...politeSaid(), ...saidIn('[data-testid=announcer-assertive]')]

    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-fr]')!.click())
    await eventually(() => expect(document.documentElement.lang).toBe('fr'))
    await act(async () => {})
    expect(region('polite').textContent).toBe('')
    expect(region('assertive').textContent).toBe('')
    expect(said).toEqual([])
    store.dispose()
  })
})
