// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import type { ContactRequest } from '../../src/contract'
import { alice, bob, contactRequest } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, tutorChosen, type } from './support/page'

// A contact request the server made whose answer was lost on the way back (the connection reset, or the answer later
// than the request's timeout): its `contactRequest:created` came over the socket and the card appeared, but the form
// said "Could not reach the server. Check your connection." beside the header's "online", not "Request sent.".

const tutor = { ...bob, role: 'tutor' as const }
const page = pagePerTest('#/contact-requests')

test.each(['before', 'after'] as const)(
  'a request made whose answer was lost, its event come %s the failure, says it was sent',
  async (when) => {
    let loseAnswer: () => void = () => {}
    let posted = false
    // The server lists the request its `contactRequest:created` brings once sent (`made`): a read of the list answered
    // after the event (late, on a busy machine) holds it, as a real server's would, instead of taking it away again.
    const served: ContactRequest[] = []
    const fetchFn = apiRoutes((method, path) => {
      if (method === 'POST' && path === '/api/contact-requests') {
        posted = true
        return new Promise<Response>((_resolve, reject) => {
          loseAnswer = () => reject(new TypeError('Failed to fetch'))
        })
      }
      if (path === '/api/contact-requests') return json(200, served)
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
    const made = () =>
      act(() => {
        const request = contactRequest('r9', {
          studentId: alice.id,
          tutorId: tutor.id,
          message: 'Hello, can you help with algebra?',
        })
        served.push(request)
        sockets.last.serverEmit('contactRequest:created', request, { offset: 2 })
      })
    if (when === 'before') made()
    await act(async () => loseAnswer())
    if (when === 'after') {
      await eventually(() => expect(panel.querySelector('[role=alert]')).not.toBeNull())
      made()
    }
    await eventually(() => expect(panel.querySelector('.form-ok')?.textContent).toBe('Request sent.'))
    expect(panel.querySelector('[role=alert]')).toBeNull()
    expect(fieldLabelled(page.container, 'Message', HTMLTextAreaElement).value).toBe('')
    store.dispose()
  },
)
