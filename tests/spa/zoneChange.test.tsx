// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test, vi } from 'vitest'
import { eventually } from './support/eventually'
import { alice, bob, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, tutorChosen, type } from './support/page'

// A laptop carried to another time zone (or set to one) changes the system's zone under an open page: `new Date`, which
// reads the booking form's date field, follows at once, and so must the dates the page shows. The page kept the zone it
// opened in: a lesson booked for 10:00 was shown booked for 11:00.

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest('#/lessons')

/** The lessons page's API: one lesson listed, a booking answered as the server stores it. */
const lessonsApi = apiRoutes(async (method, path, request) => {
  if (method === 'POST') {
    const body = (await request.json()) as { subject: string; startsAt: string }
    return json(201, lesson('l2', { subject: body.subject, startsAt: body.startsAt }))
  }
  if (path === '/api/users') return json(200, [alice, tutor])
  if (path === '/api/lessons') return json(200, [lesson('l1', { startsAt: '2027-01-19T10:00:00.000Z' })])
  return json(200, [])
})

/** What the page shows as a lesson's start. */
const startOf = (id: string) =>
  page.container.querySelector(`[data-lesson-id="${id}"] time`)?.textContent?.replace(/\s/g, ' ') ?? '(no lesson)'

describe('the system’s time zone changing while the page is open', () => {
  test('the page shows dates in the new zone once back to the user, as the booking form reads them', async () => {
    // The zone the page opened in (the system's then): Paris. jsdom's own clock, which `new Date` reads, is UTC.
    const real = Intl.DateTimeFormat.prototype.resolvedOptions
    const opened = vi.spyOn(Intl.DateTimeFormat.prototype, 'resolvedOptions').mockImplementation(function (
      this: Intl.DateTimeFormat,
    ) {
      return { ...real.call(this), timeZone: 'Europe/Paris' }
    })
    const { store } = appStore(lessonsApi)
    renderApp(page.root, store)
    await eventually(() => expect(startOf('l1')).toBe('Jan 19, 2027, 11:00 AM'))
    // The laptop is now in UTC; the user comes back to the page.
    opened.mockRestore()
    act(() => window.dispatchEvent(new Event('focus')))
    await eventually(() => expect(startOf('l1')).toBe('Jan 19, 2027, 10:00 AM'))
    // A booking for 10:00 there is shown for 10:00.
    await tutorChosen(page.container, tutor.id)
    type(fieldLabelled(page.container, 'Subject', HTMLInputElement), 'Geometry')
    const when = fieldLabelled(page.container, 'Date and time', HTMLInputElement)
    type(when, '2027-01-20T10:00')
    act(() => when.form!.requestSubmit())
    await eventually(() => expect(startOf('l2')).toBe('Jan 20, 2027, 10:00 AM'))
    store.dispose()
  })
})
