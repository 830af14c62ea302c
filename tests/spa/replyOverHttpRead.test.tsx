// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import type { Message } from '../../src/contract'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp, type } from './support/page'

// The socket down, HTTP up: opening a thread marks nothing read (only a socket's join does), so Bob's message stays
// counted unread in the list beside it. Alice replies, over HTTP: replying is reading (the server moves her read
// position to her message, and tells her sockets with conversation:read, which she has none of now). Her list showed
// "You: …" with "1 unread message" beside it (and in the nav and the tab's title) until the next read of the list.

const page = pagePerTest('#/messages/c1')

test('a reply sent over HTTP while the socket is down leaves its conversation with no unread count', async () => {
  const thread: Message[] = [message(1, { senderId: alice.id }), message(2, { content: 'still there?' })]
  const fetchFn = apiRoutes(async (method, path, request) => {
    if (method === 'POST' && path === '/api/conversations/c1/messages') {
      const body = (await request.json()) as { content: string; clientId: string }
      const stored = message(3, { senderId: alice.id, content: body.content, clientId: body.clientId })
      thread.push(stored)
      return json(201, stored)
    }
    if (path === '/api/conversations')
      return json(200, [
        conversation('c1', { unreadCount: 1, lastMessage: thread[1]!, updatedAt: thread[1]!.createdAt }),
      ])
    if (path === '/api/conversations/c1/messages') return json(200, thread)
    if (path === '/api/users') return json(200, [alice, bob])
    return json(200, [])
  })
  const { store, sockets } = appStore(fetchFn)
  act(() => {
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
  })
  act(() => sockets.last.serverDrop('transport close'))
  renderApp(page.root, store)
  const composer = await eventually(() => {
    const el = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
    expect(el).not.toBeNull()
    return el!
  })
  await eventually(() => expect(page.container.querySelector('[data-testid=unread-count]')).not.toBeNull())

  type(composer, 'yes, here')
  act(() => composer.form!.requestSubmit())
  await eventually(() =>
    expect(page.container.querySelector('[data-testid=conversation-last]')?.textContent).toBe('You: yes, here'),
  )
  expect(page.container.querySelector('[data-testid=unread-count]')).toBeNull()
  store.dispose()
})
