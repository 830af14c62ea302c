// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { appStore, heldPeopleApi, json, pagePerTest, politeSaid, renderApp } from './support/page'

// The open thread says each new message from the other person with their name. A message that came just after the
// thread opened, the people still being read (a slow server, a reload), was said "New message from Someone: …", and
// nothing said who wrote it once the people came. It now waits for them (or for their read to fail), as toasts do.

const page = pagePerTest('#/messages/c1')

describe('a new message in the open thread while the people are still being read', () => {
  test('is said once they are read, with the name', async () => {
    const { fetchFn, answerPeople } = heldPeopleApi((path) => {
      if (path === '/api/conversations') return json(200, [conversation('c1')])
      if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
      return undefined
    })
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const said = politeSaid()
    act(() => sockets.last.serverEmit('message:new', message(2, { content: 'are you there?' }), { offset: 1 }))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
    await answerPeople()
    await eventually(() => expect(said.join(' ')).toContain('are you there?'))
    expect(said).toEqual(['New message from Bob: are you there?'])
    store.dispose()
  })
})
