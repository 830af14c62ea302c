// @vitest-environment jsdom
import { act } from 'react'
import { expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import type { Message } from '../../src/contract'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A message comes in a conversation that is not open, and the user opens that very conversation before the layout's
// moment (UNREAD_NEWS_AFTER_MS) is up: its count is the open thread's now, no news (the thread shows the message). The
// socket is down (HTTP up), so nothing marks the thread read and its count stays.

const page = pagePerTest('#/messages')

test('a rise in a conversation the user opens within the moment is not said as unread news', async () => {
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
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=conversation]')).toHaveLength(2))
  const said = politeSaid()
  act(() => sockets.last.serverDrop('transport close'))

  const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  try {
    // Bob writes in c2; the list is read again with its unread count.
    threads.c2 = [message(1, { id: 'x1', conversationId: 'c2', content: 'elsewhere' })]
    unread.c2 = 1
    act(() => void store.dispatch(api.util.invalidateTags([{ type: 'Conversation', id: 'LIST' }])))
    await eventually(() => expect(page.container.querySelector('[data-testid=unread-count]')).not.toBeNull())
    // Within the moment, the user opens c2: its message is on the screen.
    act(() => void window.location.assign('#/messages/c2'))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    await wait(5000)
    expect(said.filter((text) => /unread/.test(text))).toEqual([])

    // A message in a conversation that is not open is news, as ever.
    threads.c1 = [message(1), message(2, { content: 'and here' })]
    unread.c1 = 1
    act(() => void store.dispatch(api.util.invalidateTags([{ type: 'Conversation', id: 'LIST' }])))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=unread-count]')).toHaveLength(2))
    await wait(5000)
    expect(said.filter((text) => /unread/.test(text))).toEqual(['2 unread messages'])
  } finally {
    vi.useRealTimers()
  }
  store.dispose()
})
