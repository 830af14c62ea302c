// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { alice, bob, contactRequest } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, tutorChosen, type } from './support/page'

// A request sent while the list of requests had not come yet (its read slow, or failed), whose answer never came
// (the server unreachable: nothing made): once the list came with an older request of the same words to the same tutor
// (sent, and declined, long ago), the form took it for the one just asked and said "Request sent.", though nothing
// was sent.

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest('#/contact-requests')

test('a request whose answer was lost, sent before the list came, is not taken for an older one of the list', async () => {
  let answerList: () => void = () => {}
  let loseAnswer: () => void = () => {}
  let posted = false
  const older = contactRequest('r1', {
    studentId: alice.id,
    tutorId: tutor.id,
    message: 'Hello, can you help with algebra?',
    status: 'declined',
  })
  const fetchFn = apiRoutes((method, path) => {
    if (method === 'POST' && path === '/api/contact-requests') {
      posted = true
      return new Promise<Response>((_resolve, reject) => {
        loseAnswer = () => reject(new TypeError('Failed to fetch'))
      })
    }
    if (method === 'GET' && path === '/api/contact-requests')
      return new Promise<Response>((resolve) => {
        answerList = () => resolve(json(200, [older]))
      })
    if (path === '/api/users') return json(200, [alice, tutor])
    return json(200, [])
  })
  const { store, sockets } = appStore(fetchFn)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  const select = await tutorChosen(page.container, tutor.id)
  type(fieldLabelled(page.container, 'Message', HTMLTextAreaElement), 'Hello, can you help with algebra?')
  act(() => select.closest('form')!.requestSubmit())
  await eventually(() => expect(posted).toBe(true))
  const panel = page.container.querySelector('.panel')!
  await act(async () => loseAnswer())
  await eventually(() => expect(panel.querySelector('[role=alert]')).not.toBeNull())
  await act(async () => answerList())
  await eventually(() => expect(page.container.textContent).toContain('To Bob'))
  expect(panel.querySelector('.form-ok')?.textContent).toBeUndefined()
  expect(panel.querySelector('[role=alert]')).not.toBeNull()
  store.dispose()
})
