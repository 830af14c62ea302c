// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { sendFailed, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { bob, conversation } from '../unit/support/fixtures'
import { appStore, heldPeopleApi, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A send refused for good in a conversation not open is said once, naming the other person. Refused while the people
// were still being read (a slow first load), it was said at once as "A message to Someone was not sent.", and never
// again with the name the list showed a moment later.

const page = pagePerTest('#/messages')

describe('a send refused while the people are still being read', () => {
  test('is said once they are read, with the name', async () => {
    const { fetchFn, answerPeople } = heldPeopleApi((path) =>
      path === '/api/conversations' ? json(200, [conversation('c1')]) : undefined,
    )
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const entry = await eventually(() => {
      const a = page.container.querySelector<HTMLAnchorElement>('[data-testid=conversation]')
      expect(a).not.toBeNull()
      return a!
    })
    const said = politeSaid()
    act(() => {
      store.dispatch(sendMessage({ conversationId: 'c1', content: 'Hi', clientId: 'k1' }))
      store.dispatch(sendFailed({ clientId: 'k1', error: { code: 'FORBIDDEN', message: 'no' } }))
    })
    await eventually(() => expect(entry.textContent).toContain('Not sent'))
    expect(said.filter((s) => s.includes('was not sent'))).toEqual([])
    await answerPeople()
    await eventually(() => expect(entry.textContent).toContain(bob.name))
    await eventually(() =>
      expect(said.filter((s) => s.includes('was not sent'))).toEqual([`A message to ${bob.name} was not sent.`]),
    )
  })
})
