// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { sendFailed, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// Two sends to Bob refused together (his conversation closed to the user, the outbox drained as the socket came back)
// in a conversation not open were said "A message to Bob was not sent.": one sentence per conversation, in the
// singular, whatever the number refused. A screen reader user heard of one message lost, and two were.

const page = pagePerTest('#/messages')

describe('sends refused together in a conversation not open', () => {
  test('are said with their number', async () => {
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
      store.dispatch(sendMessage({ conversationId: 'c1', content: 'Are you there?', clientId: 'k2' }))
      store.dispatch(sendFailed({ clientId: 'k1', error: { code: 'FORBIDDEN', message: 'no' } }))
      store.dispatch(sendFailed({ clientId: 'k2', error: { code: 'FORBIDDEN', message: 'no' } }))
    })
    await eventually(() => expect(entry.textContent).toContain('Not sent'))
    await eventually(() => expect(said.join(' ')).toMatch(/not sent/))
    expect(said.filter((s) => s.includes('not sent'))).toEqual([`2 messages to ${bob.name} were not sent.`])
    store.dispose()
  })
})
