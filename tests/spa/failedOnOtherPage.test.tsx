// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { sendFailed, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A message written offline waits in the outbox while the user goes on to another page (their lessons); the socket
// back, the server refuses it for good. Only the messages page said such a refusal, and marked it in its list: on any
// other page nothing said it or showed it, and the user went on believing the message had gone until they happened to
// open their messages. It is now said on whichever page is open, and the navigation's Messages link shows it.

const page = pagePerTest('#/lessons')

describe('a send refused while another page is open', () => {
  test('is said, naming the other person, and shown on the Messages link', async () => {
    const { store, sockets } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/users') return json(200, [alice, bob])
        if (path === '/api/conversations') return json(200, [conversation('c1')])
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Lessons'))
    await eventually(() => expect(store.getState().api.queries['getUsers(undefined)']?.status).toBe('fulfilled'))
    await eventually(() =>
      expect(store.getState().api.queries['getConversations(undefined)']?.status).toBe('fulfilled'),
    )
    const said = politeSaid()
    act(() => {
      store.dispatch(sendMessage({ conversationId: 'c1', content: 'Hi', clientId: 'k1' }))
      store.dispatch(sendFailed({ clientId: 'k1', error: { code: 'FORBIDDEN', message: 'no' } }))
    })
    await eventually(() => expect(said.join(' ')).toContain(`A message to ${bob.name} was not sent.`))
    expect(page.container.querySelector('[data-testid=nav-messages]')?.textContent).toContain('Not sent')
    store.dispose()
  })
})
