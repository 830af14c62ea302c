// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp } from './support/page'

// "Start" a conversation with Bob opens it, focus in its composer. The server's answer names the pair, but the thread
// took its title from the list of conversations, which that creation had the page read again: until that read came
// (or for good, had it failed), the thread was "Conversation" and its composer "Message to Conversation", the name a
// screen reader said as focus landed there.

const page = pagePerTest('#/messages')

test('a conversation just started is named after the other person as soon as it opens', async () => {
  let created = false
  const fetchFn = apiRoutes((method, path) => {
    if (path === '/api/users') return json(200, [alice, bob])
    if (method === 'POST' && path === '/api/conversations') {
      created = true
      return json(201, conversation('c2'))
    }
    // The list read again after the creation is slow to come (the server busy).
    if (path === '/api/conversations') return created ? new Promise<Response>(() => {}) : json(200, [])
    if (path === '/api/conversations/c2/messages') return json(200, [])
    return json(200, [])
  })
  const { store, sockets } = appStore(fetchFn)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  const who = fieldLabelled(page.container, 'Write to', HTMLSelectElement)
  await eventually(() => expect(who.options).toHaveLength(2))
  act(() => {
    who.value = bob.id
    who.dispatchEvent(new Event('change', { bubbles: true }))
  })
  const start = [...page.container.querySelectorAll('button')].find((b) => b.textContent === 'Start')!
  start.focus()
  act(() => start.click())
  const composer = await eventually(() => {
    const found = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
    expect(found).not.toBeNull()
    expect(document.activeElement).toBe(found)
    return found!
  })
  expect(page.container.querySelector(`label[for="${composer.id}"]`)!.textContent).toBe('Message to Bob')
  expect(page.container.querySelector('[data-testid=thread] h2')!.textContent).toBe('Bob')
  store.dispose()
})
