// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { toDateTimeLocal } from '../../src/features/shared/format'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// A lesson booked for a moment already gone, or past the contract's last year: the server refuses it (INVALID,
// "startsAt: must be in the future"), which the page could only say as "Check what you entered", naming no field. The
// page says what is wrong, on the date field.

const tutor = { ...bob, role: 'tutor' as const }

/** The lessons page's API, recording every write and refusing a booking as the server does one in the past. */
function lessonsApi() {
  const writes: string[] = []
  const fetchFn = apiRoutes((method, path) => {
    if (method !== 'GET') {
      writes.push(`${method} ${path}`)
      return json(400, { error: { code: 'INVALID', message: 'startsAt: must be in the future' } })
    }
    if (path === '/api/users') return json(200, [alice, tutor])
    return json(200, [])
  })
  return { writes, fetchFn }
}

const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const EN = { tutor: 'Tutor', subject: 'Subject', when: 'Date and time' }
const FR = { tutor: 'Tuteur', subject: 'Matière', when: 'Date et heure' }

describe('a lesson booked for a moment the server would refuse', () => {
  test.each([
    {
      locale: 'en',
      labels: EN,
      moment: 'in the past',
      at: new Date(Date.now() - 24 * 3600_000),
      said: 'Date and time: choose a moment that has not passed yet.',
    },
    {
      locale: 'fr',
      labels: FR,
      moment: 'in the past',
      at: new Date(Date.now() - 24 * 3600_000),
      said: 'Date et heure\u202f: choisissez un moment qui n’est pas encore passé.',
    },
    // The contract's years end with 2100 (LESSON_YEARS): a year typed too far ahead is said too, not "Check what…".
    {
      locale: 'en',
      labels: EN,
      moment: 'after 2100',
      at: new Date(2101, 0, 1, 10, 0),
      said: 'Date and time: choose a day in 2100 or before.',
    },
    {
      locale: 'fr',
      labels: FR,
      moment: 'after 2100',
      at: new Date(2101, 0, 1, 10, 0),
      said: 'Date et heure\u202f: choisissez un jour de 2100 ou avant.',
    },
  ])('($locale, $moment) is said on the date field, nothing is sent, and what was typed is kept', async (c) => {
    const { api, store, subject, when } = await bookingFor(c.locale, c.labels, c.at)
    await act(async () => {})

    expect(when.getAttribute('aria-invalid')).toBe('true')
    expect(alertsDescribing(when)).toEqual([c.said])
    expect(document.activeElement).toBe(when)
    expect(api.writes).toEqual([])
    expect(subject.value).toBe('Algebra')
    // Choosing another moment takes the error away.
    type(when, toDateTimeLocal(new Date(Date.now() + 48 * 3600_000)))
    expect(when.hasAttribute('aria-invalid')).toBe(false)
    expect(page.container.querySelector('.form-error')).toBeNull()
    store.dispose()
  })
})

// The browser's clock behind the server's: a moment still ahead here has passed there, and only the server can tell.
describe('a lesson booked for a moment the server’s clock has passed', () => {
  test.each([
    { locale: 'en', labels: EN, said: 'Date and time: choose a moment that has not passed yet.' },
    { locale: 'fr', labels: FR, said: 'Date et heure\u202f: choisissez un moment qui n’est pas encore passé.' },
  ])('($locale) the refusal is said on the date field, not as a form-wide error', async (c) => {
    const { api, store, subject, when } = await bookingFor(c.locale, c.labels, new Date(Date.now() + 3600_000))
    // The refusal is said somewhere once it is answered: where is what this test is about.
    await eventually(() => expect(page.container.querySelector('.form-error')).not.toBeNull())

    expect(when.getAttribute('aria-invalid')).toBe('true')

    expect(api.writes).toEqual(['POST /api/lessons'])
    expect(alertsDescribing(when)).toEqual([c.said])
    expect(document.activeElement).toBe(when)
    expect(page.container.querySelectorAll('.form-error')).toHaveLength(1)
    expect(subject.value).toBe('Algebra')
    type(when, toDateTimeLocal(new Date(Date.now() + 48 * 3600_000)))
    expect(when.hasAttribute('aria-invalid')).toBe(false)
    expect(page.container.querySelector('.form-error')).toBeNull()
    store.dispose()
  })
})

/** The lessons page in `locale`, a booking of Algebra with the tutor at `at` filled in and submitted. */
async function bookingFor(locale: string, labels: typeof EN, at: Date) {
  localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  window.history.replaceState(null, '', '#/lessons')
  const api = lessonsApi()
  const { store } = appStore(api.fetchFn)
  renderApp(page.root, store)
  await eventually(() => expect(fieldLabelled(page.container, labels.tutor, HTMLSelectElement).options.length).toBe(2))
  const select = fieldLabelled(page.container, labels.tutor, HTMLSelectElement)
  act(() => {
    select.value = tutor.id
    select.dispatchEvent(new Event('change', { bubbles: true }))
  })
  const subject = fieldLabelled(page.container, labels.subject, HTMLInputElement)
  type(subject, 'Algebra')
  const when = fieldLabelled(page.container, labels.when, HTMLInputElement)
  type(when, toDateTimeLocal(at))
  act(() => when.closest('form')!.requestSubmit())
  return { api, store, subject, when }
}

/** The texts of the alerts that describe `field`. */
function alertsDescribing(field: HTMLElement): (string | null)[] {
  const ids = (field.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean)
  return ids
    .map((id) => document.getElementById(id))
    .filter((el) => el?.getAttribute('role') === 'alert')
    .map((el) => el?.textContent ?? null)
}
