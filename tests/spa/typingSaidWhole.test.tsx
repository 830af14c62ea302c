// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { ephemeralEventActions } from '../../src/realtime'
import { bob } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { appStore, pagePerTest, renderApp, threadApi } from './support/page'

// The typing line is a polite live region. Not atomic, a screen reader says only the part of it that changed: when
// the language changed while Bob was typing, React rewrote the words after his name in place, and what was said was
// "est en train d’écrire…", without who. It is atomic now: any change is said as the whole sentence.

const page = pagePerTest('#/messages/c1')
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

/**
 * What a screen reader says of `region`'s changes from now on, as ARIA has it: the whole region when it is
 * aria-atomic, otherwise the nodes that changed or came.
 */
function sayingOf(region: Element): string[] {
  const said: string[] = []
  new MutationObserver((records) => {
    if (region.getAttribute('aria-atomic') === 'true') {
      if (region.textContent) said.push(region.textContent)
      return
    }
    const changed = records.flatMap((r) => (r.type === 'characterData' ? [r.target] : [...r.addedNodes]))
    const text = changed.map((node) => node.textContent ?? '').join('')
    if (text.trim()) said.push(text.trim())
  }).observe(region, { childList: true, subtree: true, characterData: true })
  return said
}

describe('the typing line', () => {
  test('says who is typing again in the new language, not the verb alone', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const line = page.container.querySelector('[data-testid=typing]')!
    act(() => void store.dispatch(ephemeralEventActions.typing({ conversationId: 'c1', userId: bob.id })))
    await eventually(() => expect(line.textContent).toBe('Bob is typing…'))
    const said = sayingOf(line)

    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-fr]')!.click())
    await eventually(() => expect(line.textContent).toBe('Bob est en train d’écrire…'))
    await act(async () => {})
    expect(said).toEqual(['Bob est en train d’écrire…'])
    store.dispose()
  })
})
