// @vitest-environment jsdom
import { createIntl } from 'react-intl'
import { afterEach, describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { fr } from '../../src/i18n'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { alice } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// A French role noun agrees with the person it is said of: "tuteur" of a man, "tutrice" of a woman. Beside every
// tutor's name the page said "(tuteur)", so the demo's Carol read "Carol (tuteur)" on the login page and "Carol
// Lindqvist (tuteur)" in her own header and in the "write to" picker. The app knows nobody's gender (a User is an id,
// a name and a role), so the French names the account's kind instead ("compte tuteur"), which is said of anyone.

const page = pagePerTest()
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

const carol: User = { id: 'u-carol', name: 'Carol Lindqvist', role: 'tutor' }

describe('(fr) the role beside a name', () => {
  test('on the login page, for each demo account', () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const { store } = appStore(
      apiRoutes(() => json(200, [])),
      {
        preloadedState: { auth: { token: null, user: null } },
      },
    )
    renderApp(page.root, store)
    const names = [...page.container.querySelectorAll('.demo-name')].map((el) => el.textContent)
    expect(names).toEqual(['Alice (compte élève)', 'Bob (compte tuteur)', 'Carol (compte tuteur)'])
    store.dispose()
  })

  test('in the header of a tutor, and in the "write to" picker', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    window.history.replaceState(null, '', '#/messages')
    const api = apiRoutes((_method, path) => (path === '/api/users' ? json(200, [alice]) : json(200, [])))
    const { store } = appStore(api, { preloadedState: { auth: { token: 'token-1', user: carol } } })
    renderApp(page.root, store)
    const header = page.container.querySelector('[data-testid=current-user]')!
    expect(header.textContent).toBe('Carol Lindqvist (compte tuteur)')
    const option = await eventually(() => {
      const found = [...page.container.querySelectorAll('option')].find((o) => o.value === alice.id)
      expect(found).toBeDefined()
      return found!
    })
    // The picker heads each role's group with it; the choice is the name alone (whole on a line at 320 px).
    expect(option.textContent).toBe('Alice')
    expect(option.closest('optgroup')?.label).toBe('Comptes élève')
    store.dispose()
  })
})

// The same agreement in a sentence about the tutor the student chose: the booking's confirmation said "en attente de
// la confirmation du tuteur" and the contact form's blank message "écrivez quelques mots au tuteur", of Carol too.
describe('(fr) a sentence about the chosen tutor', () => {
  const intl = createIntl({ locale: 'fr', messages: fr })
  test.each([
    {
      id: 'lessons.booked' as const,
      said: 'Cours «\u202fAlgèbre\u202f» réservé\u202f; en attente de confirmation.',
    },
    {
      id: 'requests.messageBlank' as const,
      said: 'Message\u202f: écrivez quelques mots\u202f; des espaces seuls ne suffisent pas.',
    },
  ])('$id does not name the tutor with a noun that agrees with a man only', ({ id, said }) => {
    expect(intl.formatMessage({ id }, { subject: 'Algèbre' })).toBe(said)
  })

  // "du tuteur", "au tuteur", "votre tuteur": a definite tutor, a person whose gender the app does not know. "un
  // tuteur", "un autre tuteur", "vos tuteurs" (anyone, or a group) and "compte tuteur" are said of nobody in particular.
  test('no French message speaks of one definite tutor', () => {
    const definite = /\b(?:du|au|le|ce|cet|votre|son|leur|même) tut(?:eur|rice)\b|\bl[’'] ?tut(?:eur|rice)\b/i
    expect(Object.entries(fr).filter(([, text]) => definite.test(text))).toEqual([])
  })
})
