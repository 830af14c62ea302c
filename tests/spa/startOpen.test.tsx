// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp } from './support/page'

// "Start" with the person whose conversation is open: the server answers that conversation (the pair's one), the URL
// stays, and focus stayed on "Start", now off (its choice cleared), with nothing said: the keyboard user could not
// tell anything had happened. Like opening any conversation, it puts them in its composer.

const page = pagePerTest()

describe('"Start" a conversation that is already open', () => {
  test('puts keyboard focus in its composer', async () => {
    window.history.replaceState(null, '', '#/messages/c1')
    const api = apiRoutes((method, path) => {
      if (path === '/api/users') return json(200, [alice, bob])
      // The pair's conversation, as the server answers a POST for one that exists.
      if (method === 'POST' && path === '/api/conversations') return json(200, conversation('c1'))
      if (path === '/api/conversations') return json(200, [conversation('c1')])
      if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
      return json(200, [])
    })
    const { store, sockets } = appStore(api)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const composer = await eventually(() => {
      const found = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
      expect(found).not.toBeNull()
      return found!
    })
    const who = fieldLabelled(page.container, 'Write to', HTMLSelectElement)
    await eventually(() => expect(who.options).toHaveLength(2))
    act(() => {
      who.value = bob.id
      who.dispatchEvent(new Event('change', { bubbles: true }))
    })
    const start = [...page.container.querySelectorAll('button')].find((b) => b.textContent === 'Start')!
    start.focus()
    act(() => start.click())
    await eventually(() => expect(who.value).toBe(''))
    expect(window.location.hash).toBe('#/messages/c1')
    expect(document.activeElement).toBe(composer)
    store.dispose()
  })
})
