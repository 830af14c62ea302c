// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// WCAG 3.3.1 (error identification): a login refused for its credentials said "Wrong email or password." in an alert,
// but neither field said it was in error, so a screen reader moving back to them heard nothing wrong. Both are marked
// (the server does not say which one was wrong, and must not) and described by the message, until one is edited. A
// refusal that is not the fields' fault (too many attempts, the server down) marks none.

const page = pagePerTest()

const refusing = (status: number, code: string) =>
  apiRoutes((_method, path) =>
    path === '/api/auth/login' ? json(status, { error: { code, message: 'refused' } }) : json(200, []),
  )

async function refusedLogin(status: number, code: string) {
  const { store } = appStore(refusing(status, code), { preloadedState: { auth: { token: null, user: null } } })
  renderApp(page.root, store)
  const email = fieldLabelled(page.container, 'Email') as HTMLInputElement
  const password = fieldLabelled(page.container, 'Password') as HTMLInputElement
  type(email, 'alice@talemy.test')
  type(password, 'wrong')
  act(() => page.container.querySelector('form')!.requestSubmit())
  const alert = await eventually(() => {
    const found = page.container.querySelector<HTMLElement>('[role=alert]')
    expect(found?.textContent).toBeTruthy()
    return found!
  })
  return { store, email, password, alert }
}

describe('a refused login and its fields', () => {
  test('wrong credentials: both fields are invalid and described by the message, until one is edited', async () => {
    const { store, email, password, alert } = await refusedLogin(401, 'UNAUTHORIZED')
    expect(alert.textContent).toBe('Wrong email or password.')
    for (const field of [email, password]) {
      expect(field.getAttribute('aria-invalid')).toBe('true')
      expect(field.getAttribute('aria-describedby')).toBe(alert.id)
    }
    type(password, 'wrong again')
    for (const field of [email, password]) {
      expect(field.hasAttribute('aria-invalid')).toBe(false)
      expect(field.hasAttribute('aria-describedby')).toBe(false)
    }
    store.dispose()
  })

  test('a later attempt held back by a field left empty: the refusal goes, the field says what it lacks', async () => {
    const { store, password, alert } = await refusedLogin(401, 'UNAUTHORIZED')
    expect(alert.textContent).toBe('Wrong email or password.')
    type(password, '')
    act(() => page.container.querySelector('form')!.requestSubmit())
    expect(password.validationMessage).toBe('Fill in this field.')
    // "Wrong email or password." was about the attempt before: this one never reached the server.
    expect(page.container.querySelector('form [role=alert]')).toBeNull()
    store.dispose()
  })

  test.each([
    ['too many attempts', 429, 'RATE_LIMITED'],
    ['the server failing', 500, 'INTERNAL'],
  ])('%s: no field is marked', async (_name, status, code) => {
    const { store, email, password } = await refusedLogin(status, code)
    for (const field of [email, password]) expect(field.hasAttribute('aria-invalid')).toBe(false)
    store.dispose()
  })
})
