// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { ephemeralEventActions } from '../../src/realtime'
import { bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { appStore, heldPeopleApi, json, pagePerTest, renderApp } from './support/page'

// The typing line is a polite live region: what it shows is said. While the people were still being read (a slow
// server, a reload), Bob starting to type showed and said "Someone is typing…", then "Bob is typing…" once they came:
// said twice, the first time without the name. It now waits for them (or for their read to fail), as the thread's
// new-message news does.

const page = pagePerTest('#/messages/c1')

describe('the typing line while the people are still being read', () => {
  test('waits for them, and names who types', async () => {
    const { fetchFn, answerPeople } = heldPeopleApi((path) => {
      if (path === '/api/conversations') return json(200, [conversation('c1')])
      if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
      return undefined
    })
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const line = page.container.querySelector('[data-testid=typing]')!
    const shown: string[] = []
    new MutationObserver(() => {
      if (line.textContent) shown.push(line.textContent)
    }).observe(line, { childList: true, subtree: true, characterData: true })
    act(() => void store.dispatch(ephemeralEventActions.typing({ conversationId: 'c1', userId: bob.id })))
    await answerPeople()
    await eventually(() => expect(line.textContent).toBe('Bob is typing…'))
    expect(shown).toEqual(['Bob is typing…'])
    store.dispose()
  })
})
