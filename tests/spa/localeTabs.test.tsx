// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { I18nProvider, useLocale } from '../../src/i18n'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { pagePerTest } from './support/page'

// The language is one choice for the browser (it is stored): a change in one tab reaches the user's other open tabs
// (the `storage` event, which only the other tabs get), as a reload of them would.

function Shown() {
  return <p data-testid="locale">{useLocale().locale}</p>
}

const otherTabStores = (newValue: string | null, key: string | null = LOCALE_STORAGE_KEY) =>
  act(() => void window.dispatchEvent(new StorageEvent('storage', { key, newValue })))

describe('the language chosen in another tab', () => {
  // A root per test: one for the file, unmounted after the first test, would leave the next nothing to render into.
  const page = pagePerTest()
  afterEach(() => window.localStorage.clear())

  test('is taken up by this tab at once, <html lang> too; anything else stored changes nothing', () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'en')
    act(() =>
      page.root.render(
        <I18nProvider timeZone="UTC">
          <Shown />
        </I18nProvider>,
      ),
    )
    const shown = () => page.container.querySelector('[data-testid=locale]')!.textContent
    expect(shown()).toBe('en')
    otherTabStores('fr')
    expect(shown()).toBe('fr')
    expect(document.documentElement.lang).toBe('fr')
    otherTabStores('de')
    otherTabStores(null)
    otherTabStores(null, null)
    otherTabStores('en', 'talemy.other')
    expect(shown()).toBe('fr')
    otherTabStores('en')
    expect(shown()).toBe('en')
  })
})
