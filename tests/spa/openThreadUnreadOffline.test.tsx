// @vitest-environment jsdom
import { act } from 'react'
import { expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import type { Message } from '../../src/contract'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// The socket down, HTTP up: the pages are read again over HTTP (`fallbackReads.ts`), and nothing marks a thread read
// (only a socket's join does). Bob's message in the open thread comes with the thread's read, and with the list's read
// an unread count for that very thread: the thread says the message; the layout must not say it again as "1 unread
// message" (its news is of conversations that are not open), nor when the user then leaves that thread.

const page = pagePerTest('#/messages/c1')

test('a message in the open thread read over HTTP while the socket is down is said once, not again as unread', async () => {
  const threads: Record<string, Message[]> = { c1: [message(1)], c2: [] }
  const unread: Record<string, number> = { c1: 0, c2: 0 }
  const listed = (id: string) =>
    conversation(id, {
      unreadCount: unread[id]!,
      lastMessage: threads[id]!.at(-1) ?? null,
      updatedAt: threads[id]!.at(-1)?.createdAt ?? '2026-01-01T00:00:00.000Z',
    })
  const fetchFn = apiRoutes((_method, path) => {
    if (path === '/api/conversations') return json(200, [listed('c1'), listed('c2')])
    if (path === '/api/users') return json(200, [alice, bob])
    const thread = /^\/api\/conversations\/(c[12])\/messages$/.exec(path)
    if (thread) return json(200, threads[thread[1]!])
    return json(200, [])
  })
  const { store, sockets } = appStore(fetchFn)
  act(() => {
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
  })
  renderApp(page.root, store)
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=conversation]')).toHaveLength(2))
  await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
  act(() => sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null }))
  const said = politeSaid()
  act(() => sockets.last.serverDrop('transport close'))

  // Bob writes in the open thread; the server counts it unread for Alice (no socket of hers is in the room). The
  // fallback reads' turn: the thread and the list read again.
  threads.c1 = [message(1), message(2, { content: 'still there?' })]
  unread.c1 = 1
  const readAgain = () =>
    act(
      () =>
        void store.dispatch(
          api.util.invalidateTags([
            { type: 'Message', id: 'c1' },
            { type: 'Conversation', id: 'LIST' },
          ]),
        ),
    )
  // The layout's moment (UNREAD_NEWS_AFTER_MS) on fake timers from here: nothing said can slip past the checks.
  const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  try {
    readAgain()
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
    await eventually(() => expect(page.container.querySelector('[data-testid=unread-count]')).not.toBeNull())
    await wait(5000)
    expect(said).toEqual(['New message from Bob: still there?'])

    // Leaving the thread brings nothing new: its count was there all along.
    act(() => void window.location.assign('#/messages'))
    await eventually(() => expect(page.container.querySelector('[data-testid=thread]')).toBeNull())
    await wait(5000)
    expect(said).toEqual(['New message from Bob: still there?'])

    // A message in a conversation that is not open is news, as ever.
    threads.c2 = [message(1, { id: 'x1', conversationId: 'c2', content: 'elsewhere' })]
    unread.c2 = 1
    readAgain()
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=unread-count]')).toHaveLength(2))
    await wait(5000)
    expect(said).toEqual(['New message from Bob: still there?', '2 unread messages'])
  } finally {
    vi.useRealTimers()
  }
  store.dispose()
})
