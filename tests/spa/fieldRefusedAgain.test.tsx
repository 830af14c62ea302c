// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { alice, bob } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  fieldLabelled,
  json,
  pagePerTest,
  renderApp,
  type,
  saidInAlerts,
  tutorChosen,
} from './support/page'

// The booking form refuses a blank subject or a moment gone on the field itself, in an alert, focus on the field. Enter
// pressed again in that field, unchanged, refused it again and said nothing: the alert kept its node and its words,
// focus did not move (it was there), and a screen reader user heard no answer to the key (WCAG 4.1.3), where the
// composer says "Nothing to send" at each press.

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest()

describe('Enter pressed again in a booking field the form refused', () => {
  test.each([
    {
      field: 'Subject',
      fill: (subject: HTMLInputElement) => type(subject, '   '),
      said: 'Subject: type what the lesson is about; spaces alone are not a subject.',
    },
    {
      field: 'Date and time',
      fill: (when: HTMLInputElement) => {
        type(fieldLabelled(page.container, 'Subject', HTMLInputElement), 'Algebra')
        type(when, '2020-01-06T10:00')
      },
      said: 'Date and time: choose a moment that has not passed yet.',
    },
  ])('$field: says the refusal again at each press', async (c) => {
    window.history.replaceState(null, '', '#/lessons')
    const writes: string[] = []
    const { store } = appStore(
      apiRoutes((method, path) => {
        if (method !== 'GET') writes.push(`${method} ${path}`)
        if (path === '/api/users') return json(200, [alice, tutor])
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    await tutorChosen(page.container, tutor.id)
    const field = fieldLabelled(page.container, c.field, HTMLInputElement)
    c.fill(field)
    const said = saidInAlerts(page.container)
    for (let press = 0; press < 2; press++) {
      // Enter in a text or date field submits its form: the browser's implicit submission.
      act(() => field.form!.requestSubmit())
      await act(async () => {})
      expect(document.activeElement).toBe(field)
    }
    expect(said).toEqual([c.said, c.said])
    expect(writes).toEqual([])
    store.dispose()
  })
})
