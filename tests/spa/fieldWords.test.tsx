// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { eventually } from './support/eventually'
import { alice, bob } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// What a form's empty or malformed field says when the form is sent: the browser writes it in its own language, which
// the SPA's language switch does not reach; a user who chose French in an English browser got "Please fill out this
// field." The fields carry the SPA's own words (`setCustomValidity`), and only while the value lacks something.

const page = pagePerTest()
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

const api = apiRoutes((_method, path) => (path === '/api/users' ? json(200, [alice, bob]) : json(200, [])))

describe('a field that holds a form back says why in the chosen language', () => {
  test('login: an empty email and password, then an email that is not one; nothing once filled in', () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const { store } = appStore(api, { preloadedState: { auth: { token: null, user: null } } })
    renderApp(page.root, store)
    const email = fieldLabelled(page.container, 'E-mail', HTMLInputElement)
    const password = fieldLabelled(page.container, 'Mot de passe', HTMLInputElement)
    expect(email.validationMessage).toBe('Veuillez renseigner ce champ.')
    expect(password.validationMessage).toBe('Veuillez renseigner ce champ.')
    type(email, 'alice')
    expect(email.validationMessage).toBe('Saisissez une adresse e-mail, par exemple nom@exemple.fr.')
    type(email, 'alice@talemy.test')
    type(password, 'talemy')
    expect(email.validationMessage).toBe('')
    expect(password.validationMessage).toBe('')
    expect(email.form!.checkValidity()).toBe(true)
    // The language switch reaches them too.
    type(password, '')
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-en]')!.click())
    expect(password.validationMessage).toBe('Fill in this field.')
    store.dispose()
  })

  test('the person and tutor pickers, while nobody is chosen', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    window.history.replaceState(null, '', '#/messages')
    const { store } = appStore(api)
    renderApp(page.root, store)
    const who = fieldLabelled(page.container, 'Écrire à', HTMLSelectElement)
    await eventually(() => expect(who.options).toHaveLength(2))
    expect(who.validationMessage).toBe('Veuillez sélectionner un élément de la liste.')
    act(() => page.container.querySelector<HTMLAnchorElement>('[data-testid=nav-lessons]')!.click())
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Cours'))
    const tutor = fieldLabelled(page.container, 'Tuteur', HTMLSelectElement)
    expect(tutor.validationMessage).toBe('Veuillez sélectionner un élément de la liste.')
    const subject = fieldLabelled(page.container, 'Matière', HTMLInputElement)
    expect(subject.validationMessage).toBe('Veuillez renseigner ce champ.')
    store.dispose()
  })
})
