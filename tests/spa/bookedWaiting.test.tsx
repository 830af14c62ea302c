// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import { toDateTimeLocal } from '../../src/features/shared/format'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { alice, bob, lesson } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// "Booked “Algebra”; waiting for the tutor to confirm." stayed under the form after the tutor had confirmed (or
// either had cancelled), beside the card that said so: the page told her she was waiting on something already answered.

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

test.each(['confirmed', 'cancelled'] as const)(
  'the booking’s “waiting for the tutor” goes once the lesson is %s, and the card says it',
  async (status) => {
    window.history.replaceState(null, '', '#/lessons')
    const booked = lesson('l9', { tutorId: tutor.id, studentId: alice.id, subject: 'Algebra' })
    // The server's list as it stands: the page reads it again after the booking, and that read has the lesson.
    let listed: (typeof booked)[] = []
    const fetchFn = apiRoutes((method, path) => {
      if (method === 'POST' && path === '/api/lessons') {
        listed = [booked]
        return json(201, booked)
      }
      if (path === '/api/lessons') return json(200, listed)
      if (path === '/api/users') return json(200, [alice, tutor])
      return json(200, [])
    })
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    const select = fieldLabelled(page.container, 'Tutor', HTMLSelectElement)
    await eventually(() => expect(select.options.length).toBe(2))
    act(() => {
      select.value = tutor.id
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
    type(fieldLabelled(page.container, 'Subject', HTMLInputElement), 'Algebra')
    type(
      fieldLabelled(page.container, 'Date and time', HTMLInputElement),
      toDateTimeLocal(new Date(Date.now() + 86_400_000)),
    )
    act(() => select.closest('form')!.requestSubmit())
    const said = () => page.container.querySelector('.form-ok')?.textContent ?? null
    await eventually(() => expect(said()).toBe('Booked “Algebra”; waiting for the tutor to confirm.'))

    // The tutor answers: the card changes, and the sentence about waiting goes.
    const answered = { ...booked, status, updatedAt: '2026-11-24T09:00:00.000Z' }
    listed = [answered]
    act(() => sockets.last.serverEmit('lesson:statusUpdated', answered, { offset: 2 }))
    await eventually(() =>
      expect(page.container.querySelector('[data-lesson-id=l9] [data-testid=lesson-status]')?.textContent).toBe(status),
    )
    expect(said()).toBeNull()
    store.dispose()
  },
)
