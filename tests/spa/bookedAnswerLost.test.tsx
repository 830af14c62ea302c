// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import type { Lesson } from '../../src/contract'
import { toDateTimeLocal } from '../../src/features/shared/format'
import { alice, bob, lesson } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// A booking the server made whose answer was lost on the way back (the connection reset, or the answer later than the
// request's timeout): its `lesson:created` came over the socket and the card appeared, but the form said "Could not
// reach the server. Check your connection." beside the header's "online", and not that the lesson was booked.

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest()

const startsAt = new Date(Date.now() + 86_400_000)
startsAt.setSeconds(0, 0)
const algebra = (id: string) =>
  lesson(id, { tutorId: tutor.id, studentId: alice.id, subject: 'Algebra', startsAt: startsAt.toISOString() })

/**
 * Alice books Algebra with Bob; the answer to her POST is lost when the test says (`loseAnswer`). The server lists
 * `listed`, and the lesson its `lesson:created` brings once sent (`made`): a list read again after it holds it.
 */
async function bookingWithLostAnswer(
  listed: Lesson[],
  lost: () => Promise<Response> = () => Promise.reject(new TypeError('Failed to fetch')),
) {
  const served = [...listed]
  window.history.replaceState(null, '', '#/lessons')
  let loseAnswer: () => void = () => {}
  let posted = false
  const fetchFn = apiRoutes((method, path) => {
    if (method === 'POST' && path === '/api/lessons') {
      posted = true
      return new Promise<Response>((resolve, reject) => {
        loseAnswer = () => lost().then(resolve, reject)
      })
    }
    if (path === '/api/lessons') return json(200, served)
    if (path === '/api/users') return json(200, [alice, tutor])
    return json(200, [])
  })
  const { store, sockets } = appStore(fetchFn)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=lesson]')).toHaveLength(listed.length))
  const select = fieldLabelled(page.container, 'Tutor', HTMLSelectElement)
  await eventually(() => expect(select.options.length).toBe(2))
  act(() => {
    select.value = tutor.id
    select.dispatchEvent(new Event('change', { bubbles: true }))
  })
  type(fieldLabelled(page.container, 'Subject', HTMLInputElement), 'Algebra')
  type(fieldLabelled(page.container, 'Date and time', HTMLInputElement), toDateTimeLocal(startsAt))
  act(() => select.closest('form')!.requestSubmit())
  await eventually(() => expect(posted).toBe(true))
  const panel = page.container.querySelector('.panel')!
  const made = (lesson: Lesson) =>
    act(() => {
      served.push(lesson)
      sockets.last.serverEmit('lesson:created', lesson, { offset: 2 })
    })
  return { store, sockets, panel, made, loseAnswer: () => act(async () => loseAnswer()) }
}

test.each(['before', 'after'] as const)(
  'a booking made whose answer was lost, its event come %s the failure, says it was booked',
  async (when) => {
    const { store, panel, made, loseAnswer } = await bookingWithLostAnswer([])
    if (when === 'before') made(algebra('l9'))
    await loseAnswer()
    if (when === 'after') {
      await eventually(() => expect(panel.querySelector('[role=alert]')).not.toBeNull())
      made(algebra('l9'))
    }
    await eventually(() =>
      expect(panel.querySelector('.form-ok')?.textContent).toBe('Booked “Algebra”; waiting for the tutor to confirm.'),
    )
    expect(panel.querySelector('[role=alert]')).toBeNull()
    expect(fieldLabelled(panel as HTMLElement, 'Subject', HTMLInputElement).value).toBe('')
    store.dispose()
  },
)

test('the same lesson booked before is not taken for the one whose answer was lost', async () => {
  const { store, panel, loseAnswer } = await bookingWithLostAnswer([algebra('l1')])
  await loseAnswer()
  await eventually(() =>
    expect(panel.querySelector('[role=alert]')?.textContent).toBe('Could not reach the server. Check your connection.'),
  )
  expect(panel.querySelector('.form-ok')).toBeNull()
  store.dispose()
})

// The server's own words that something failed after the booking went in (its commit's answer lost on the way from the
// database), or a gateway's (a timeout while the server was still at it): it may have been made all the same.
test.each([
  { name: '500 INTERNAL', answer: () => json(500, { error: { code: 'INTERNAL', message: 'internal server error' } }) },
  {
    name: 'a gateway’s 504 page',
    answer: () =>
      new Response('<html>504 Gateway Time-out</html>', { status: 504, headers: { 'content-type': 'text/html' } }),
  },
])('a booking answered $name whose event then comes says it was booked', async ({ answer }) => {
  const { store, panel, made, loseAnswer } = await bookingWithLostAnswer([], async () => answer())
  await loseAnswer()
  await eventually(() => expect(panel.querySelector('[role=alert]')).not.toBeNull())
  made(algebra('l9'))
  await eventually(() =>
    expect(panel.querySelector('.form-ok')?.textContent).toBe('Booked “Algebra”; waiting for the tutor to confirm.'),
  )
  expect(panel.querySelector('[role=alert]')).toBeNull()
  store.dispose()
})
