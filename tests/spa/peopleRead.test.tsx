// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { alice, bob } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp } from './support/page'

// The pickers of the booking, contact and "Write to" forms list the people `/api/users` gave. When that read failed,
// they were left with their placeholder alone, and nothing said why nobody could be chosen, nor offered to read again.

const page = pagePerTest()

describe('the people pickers, when the people could not be read', () => {
  test.each([
    ['#/lessons', 'Tutor'],
    ['#/contact-requests', 'Tutor'],
    ['#/messages', 'Write to'],
  ] as const)('at %s say why "%s" lists nobody, and "Try again" reads them', async (hash, label) => {
    window.history.replaceState(null, '', hash)
    let failing = true
    const { store } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/users')
          return failing ? json(500, { error: { code: 'INTERNAL', message: 'down' } }) : json(200, [alice, bob])
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    const picker = fieldLabelled(page.container, label, HTMLSelectElement)
    const form = picker.form!
    const retry = await eventually(() => {
      const alert = [...form.querySelectorAll('[role=alert]')].find((a) =>
        /server ran into a problem/.test(a.textContent ?? ''),
      )
      expect(alert).toBeDefined()
      const button = [...alert!.querySelectorAll('button')].find((b) => b.textContent === 'Try again')
      expect(button).toBeInstanceOf(HTMLButtonElement)
      return button!
    })
    act(() => retry.focus())
    failing = false
    act(() => retry.click())
    await eventually(() => expect([...picker.options].map((o) => o.value)).toContain(bob.id))
    expect(form.querySelector('[role=alert]')).toBeNull()
    // Focus goes to the picker the user can now choose in, not to <body>.
    expect(document.activeElement).toBe(picker)
    store.dispose()
  })
})
