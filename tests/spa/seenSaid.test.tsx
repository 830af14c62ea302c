// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, connectedApp, json, pagePerTest, politeSaid } from './support/page'

// "Seen" appears under one's last message when the other person reads it: a sighted reader waiting for it sees it
// come, a screen reader user was told nothing (the line is not in a live region, and nothing announced it), while
// "Bob is typing…" next to it is said (WCAG 4.1.3, status messages).

const page = pagePerTest('#/messages/c1')

/** Alice's thread with Bob: messages 1–3, the last one hers; Bob has read up to `seenUpTo`. */
function aliceAndBob(seenUpTo: number) {
  const thread = [
    message(1, { senderId: bob.id }),
    message(2, { senderId: alice.id }),
    message(3, { senderId: alice.id }),
  ]
  const fetchFn = apiRoutes((_method, path) => {
    if (path === '/api/conversations')
      return json(200, [
        conversation('c1', { lastMessage: thread[2]!, readSeq: { [alice.id]: 1, [bob.id]: seenUpTo } }),
      ])
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === '/api/conversations/c1/messages') return json(200, thread)
    return json(200, [])
  })
  return connectedApp(page, fetchFn)
}

describe('"Seen" under one\'s last message', () => {
  test('is said when the other person reads it', async () => {
    const { store, sockets } = aliceAndBob(2)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=seen]')).toHaveLength(1))
    const said = politeSaid()

    act(() =>
      sockets.last.serverEmit('conversation:seen', { conversationId: 'c1', userId: bob.id, seq: 3 }, { offset: 2 }),
    )
    await eventually(() =>
      expect(page.container.querySelector('[data-message-id=m3] [data-testid=seen]')).not.toBeNull(),
    )
    await eventually(() => expect(said).toContain('Your message was seen'))
    store.dispose()
  })

  test('is not said for an older message of ours that "Load earlier" brings, seen long before', async () => {
    // Alice's message 1, then two of Bob's; Bob had read hers when the thread opened. Only 2–3 come first.
    const thread = [
      message(1, { senderId: alice.id }),
      message(2, { senderId: bob.id }),
      message(3, { senderId: bob.id }),
    ]
    const fetchFn = apiRoutes((_method, path, request) => {
      if (path === '/api/conversations')
        return json(200, [conversation('c1', { lastMessage: thread[2]!, readSeq: { [alice.id]: 3, [bob.id]: 1 } })])
      if (path === '/api/users') return json(200, [alice, bob])
      if (path === '/api/conversations/c1/messages')
        return json(200, new URL(request.url).searchParams.has('before') ? thread.slice(0, 1) : thread.slice(1))
      return json(200, [])
    })
    const { store } = connectedApp(page, fetchFn)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
    const said = politeSaid()

    const button = await eventually(() => {
      const found = page.container.querySelector<HTMLButtonElement>('.load-earlier button')
      expect(found).not.toBeNull()
      return found!
    })
    act(() => button.click())
    await eventually(() =>
      expect(page.container.querySelector('[data-message-id=m1] [data-testid=seen]')).not.toBeNull(),
    )
    await act(async () => {})
    expect(said).not.toContain('Your message was seen')
    store.dispose()
  })

  test('is said for a message of ours the thread did not hold yet when it opened, read by then', async () => {
    // Alice's message 3, sent from another device while the page opened, was read by Bob before the conversation list
    // was read; the thread, read before it, ends at 2. Message 3 then comes: "Seen" moves to it as a sighted reader
    // watches, news that the other person's read position at the first look does not cover (nothing loaded reached it).
    const thread = [message(1, { senderId: bob.id }), message(2, { senderId: alice.id })]
    const third = message(3, { senderId: alice.id, clientId: 'k3' })
    const fetchFn = apiRoutes((_method, path) => {
      if (path === '/api/conversations')
        return json(200, [conversation('c1', { lastMessage: third, readSeq: { [alice.id]: 3, [bob.id]: 3 } })])
      if (path === '/api/users') return json(200, [alice, bob])
      if (path === '/api/conversations/c1/messages') return json(200, thread)
      return json(200, [])
    })
    const { store, sockets } = connectedApp(page, fetchFn)
    await eventually(() =>
      expect(page.container.querySelector('[data-message-id=m2] [data-testid=seen]')).not.toBeNull(),
    )
    const said = politeSaid()

    act(() => sockets.last.serverEmit('message:sent', third, { offset: 2 }))
    await eventually(() =>
      expect(page.container.querySelector('[data-message-id=m3] [data-testid=seen]')).not.toBeNull(),
    )
    await eventually(() => expect(said).toContain('Your message was seen'))
    store.dispose()
  })

  test('is not said for what was seen already when the thread opened', async () => {
    const { store } = aliceAndBob(3)
    const said = politeSaid()
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=seen]')).toHaveLength(1))
    await act(async () => {})
    expect(said).not.toContain('Your message was seen')
    store.dispose()
  })
})
