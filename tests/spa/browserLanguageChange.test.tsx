// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { I18nProvider, useDates, useLocale } from '../../src/i18n'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { pagePerTest } from './support/page'

// A page with no language chosen by its user follows the browser's: when the user changes the browser's languages
// (the `languagechange` event), the page follows at once, as a reload would; a language chosen in the page stays.

function Shown() {
  const { locale } = useLocale()
  return (
    <p data-testid="shown">
      {locale} {useDates().dateTime('2026-11-24T08:30:00Z')}
    </p>
  )
}

/** The browser's languages become `languages`, as a change in its settings does (the event goes to the window). */
const browserPrefers = (...languages: string[]) =>
  act(() => {
    Object.defineProperty(window.navigator, 'languages', { configurable: true, get: () => languages })
    window.dispatchEvent(new Event('languagechange'))
  })

describe('a change of the browser’s languages', () => {
  const page = pagePerTest()
  afterEach(() => {
    // The own property hides jsdom's getter; removing it gives the next files their usual languages back.
    delete (window.navigator as { languages?: unknown }).languages
    window.localStorage.clear()
    vi.restoreAllMocks()
  })
  const render = () =>
    act(() =>
      page.root.render(
        <I18nProvider timeZone="UTC">
          <Shown />
        </I18nProvider>,
      ),
    )
  const shown = () => page.container.querySelector('[data-testid=shown]')!.textContent

  test('is followed at once when the user chose no language: the texts, <html lang> and the dates', () => {
    Object.defineProperty(window.navigator, 'languages', { configurable: true, get: () => ['en-US'] })
    render()
    expect(shown()).toBe('en Nov 24, 2026, 8:30 AM')
    browserPrefers('fr-FR', 'en')
    expect(shown()).toBe('fr 24 nov. 2026, 08:30')
    expect(document.documentElement.lang).toBe('fr')
    browserPrefers('en-GB')
    expect(shown()).toBe('en 24 Nov 2026, 08:30')
    expect(document.documentElement.lang).toBe('en')
  })

  test('keeps the language the user chose in the page (its dates still take the browser’s own variant)', () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'en')
    Object.defineProperty(window.navigator, 'languages', { configurable: true, get: () => ['en-US'] })
    render()
    browserPrefers('fr-FR', 'en-GB')
    expect(shown()).toBe('en 24 Nov 2026, 08:30')
    expect(document.documentElement.lang).toBe('en')
  })

  test('is no longer listened to once the page is gone', () => {
    const added = vi.spyOn(window, 'addEventListener')
    const removed = vi.spyOn(window, 'removeEventListener')
    render()
    act(() => page.root.unmount())
    const listeners = (spy: typeof added) =>
      spy.mock.calls.filter(([type]) => type === 'languagechange').map(([, listener]) => listener)
    expect(listeners(added)).toHaveLength(1)
    expect(listeners(removed)).toEqual(listeners(added))
  })
})
