// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { sendFailed, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A send the server refused for good in a conversation not open on screen was said nowhere: the thread says it only
// when open, and the list showed nothing. The list now marks that conversation, and the failure is said once.

const page = pagePerTest('#/messages')

describe('a send refused in a conversation not open', () => {
  test('is marked on its entry in the list and said once, naming the other person', async () => {
    const { store, sockets } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/users') return json(200, [alice, bob])
        if (path === '/api/conversations') return json(200, [conversation('c1')])
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const entry = await eventually(() => {
      const a = page.container.querySelector<HTMLAnchorElement>('[data-testid=conversation]')
      expect(a?.textContent).toContain('Bob')
      return a!
    })
    const said = politeSaid()
    act(() => {
      store.dispatch(sendMessage({ conversationId: 'c1', content: 'Hi', clientId: 'k1' }))
      store.dispatch(sendFailed({ clientId: 'k1', error: { code: 'FORBIDDEN', message: 'no' } }))
    })
    await eventually(() => expect(entry.textContent).toContain('Not sent'))
    await eventually(() => expect(said.join(' ')).toContain(`A message to ${bob.name} was not sent`))
    expect(said.filter((s) => s.includes('was not sent'))).toHaveLength(1)
  })
})
