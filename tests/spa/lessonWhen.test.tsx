// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { toDateTimeLocal } from '../../src/features/shared/format'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob, jwt, lesson } from '../unit/support/fixtures'
import { api as talemyApi } from '../../src/api'
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
    // The contract's years end with 2100 (LESSON_YEARS): a year typed too far ahead is said too, not "Check what…", with
    // the last moment on the user's clock (UTC here; tests/e2e/lastLessonDay.test.ts sets another zone).
    {
      locale: 'en',
      labels: EN,
      moment: 'after 2100',
      at: new Date(2101, 0, 1, 10, 0),
      said: 'Date and time: choose a moment no later than Dec 31, 2100 at 11:59 PM.',
    },
    {
      locale: 'fr',
      labels: FR,
      moment: 'after 2100',
      at: new Date(2101, 0, 1, 10, 0),
      said: 'Date et heure\u202f: choisissez un moment au plus tard le 31 déc. 2100 à 23:59.',
    },
    // A year of five digits (the browser's date field takes up to six), which `new Date` cannot read: the form did
    // nothing at all, and said nothing.
    {
      locale: 'en',
      labels: EN,
      moment: 'in the year 10000',
      at: new Date(10000, 0, 1, 10, 0),
      said: 'Date and time: choose a moment no later than Dec 31, 2100 at 11:59 PM.',
    },
    {
      locale: 'fr',
      labels: FR,
      moment: 'in the year 10000',
      at: new Date(10000, 0, 1, 10, 0),
      said: 'Date et heure\u202f: choisissez un moment au plus tard le 31 déc. 2100 à 23:59.',
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

// "Already passed" is the server's to say, by its clock: this browser's may be off. A page reloaded knows how far from the
// first answers' `Date` (a token tells it only at the next refresh); a login's token tells it too.
describe('a browser clock off the server’s', () => {
  const HOUR = 3600_000

  /** The lessons page's API on a server whose clock is `offsetMs` from this browser's, saying so in every `Date`. */
  function skewedApi(offsetMs: number) {
    const writes: string[] = []
    const dated = (response: Response) => {
      response.headers.set('date', new Date(Date.now() + offsetMs).toUTCString())
      return response
    }
    const fetchFn = apiRoutes((method, path) => {
      if (path === '/api/auth/login') {
        const iat = Math.floor((Date.now() + offsetMs) / 1000)
        return json(200, { token: jwt({ sub: alice.id, iat, exp: iat + 900 }), refreshToken: 'refresh-1', user: alice })
      }
      if (method !== 'GET') {
        writes.push(`${method} ${path}`)
        return dated(json(201, lesson('l9', { tutorId: tutor.id, studentId: alice.id })))
      }
      return dated(json(200, path === '/api/users' ? [alice, tutor] : []))
    })
    return { writes, fetchFn }
  }

  /** A booking at `at` (by this browser's clock) on `skewed`'s lessons page, after a reload or a login. */
  async function book(skewed: ReturnType<typeof skewedApi>, at: number, after: 'reload' | 'login') {
    window.history.replaceState(null, '', '#/lessons')
    const { store } = appStore(skewed.fetchFn)
    if (after === 'login') {
      await store.dispatch(talemyApi.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
    }
    renderApp(page.root, store)
    await eventually(() => expect(fieldLabelled(page.container, EN.tutor, HTMLSelectElement).options.length).toBe(2))
    const select = fieldLabelled(page.container, EN.tutor, HTMLSelectElement)
    act(() => {
      select.value = tutor.id
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
    type(fieldLabelled(page.container, EN.subject, HTMLInputElement), 'Algebra')
    const when = fieldLabelled(page.container, EN.when, HTMLInputElement)
    type(when, toDateTimeLocal(new Date(at)))
    act(() => when.closest('form')!.requestSubmit())
    return { store, when }
  }

  test.each(['reload', 'login'] as const)(
    'two hours fast (after a %s): a lesson in an hour by the server’s clock is booked, not said to have passed',
    async (after) => {
      const skewed = skewedApi(-2 * HOUR)
      const { store, when } = await book(skewed, Date.now() - HOUR, after)
      await eventually(() => expect(skewed.writes).toEqual(['POST /api/lessons']))
      expect(when.hasAttribute('aria-invalid')).toBe(false)
      store.dispose()
    },
  )

  test('two hours slow (after a reload): a moment gone by the server’s clock is said on the date field, nothing is sent', async () => {
    const skewed = skewedApi(2 * HOUR)
    const { store, when } = await book(skewed, Date.now() + HOUR, 'reload')
    await act(async () => {})
    expect(when.getAttribute('aria-invalid')).toBe('true')
    expect(alertsDescribing(when)).toEqual(['Date and time: choose a moment that has not passed yet.'])
    expect(skewed.writes).toEqual([])
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
