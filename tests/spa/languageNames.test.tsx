// @vitest-environment jsdom
import { afterEach, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { alice, bob } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// The language buttons show "EN" and "FR" but were named "English" and "Français" alone: someone using voice control
// who says "click FR", what they see, matched nothing (WCAG 2.5.3, label in name). Each name now holds what the button
// shows, and still says the language in full, in that language.

const page = pagePerTest('#/messages')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** What assistive tech names `button`: its aria-label, else its text (with what is hidden from sight but not from it). */
const accessibleName = (button: HTMLElement) => (button.getAttribute('aria-label') ?? button.textContent ?? '').trim()

/** What a sighted user reads on `button`: its text, less what only assistive tech gets. */
function visibleText(button: HTMLElement): string {
  const copy = button.cloneNode(true) as HTMLElement
  for (const hidden of copy.querySelectorAll('.sr-only')) hidden.remove()
  return (copy.textContent ?? '').trim()
}

test.each(['en', 'fr'])(
  '(page in %s) each language button is named by what it shows, and the language in full',
  async (locale) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store } = appStore(apiRoutes((_m, path) => json(200, path === '/api/users' ? [alice, bob] : [])))
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelector('[data-testid=lang-fr]')).not.toBeNull())
    const named = ['en', 'fr'].map((l) => {
      const button = page.container.querySelector<HTMLButtonElement>(`[data-testid=lang-${l}]`)!
      return { shown: visibleText(button), name: accessibleName(button), lang: button.lang }
    })
    expect(named).toEqual([
      { shown: 'EN', name: expect.stringMatching(/^EN\b.*English/), lang: 'en' },
      { shown: 'FR', name: expect.stringMatching(/^FR\b.*Français/), lang: 'fr' },
    ])
    store.dispose()
  },
)
