// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { discardMessage, outboxStorageKey, selectConnection, sendFailed, sendMessage } from '../../src/realtime'
import { alice, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, pagePerTest, renderApp, threadApi } from './support/page'
import { aliceTabs } from './support/tabs'

// Alice has two tabs open on her thread with Bob, offline. What she writes in one waited "Sending…" in that tab only:
// the other, the one she looked at next, showed nothing until the network came back, and she could take it for lost and
// write it again (sent twice). Every tab now shows her sends waiting in the others, read-only, each once.

const page = pagePerTest('#/messages/c1')

/** Offline for sends: a message posted over HTTP fails before it leaves; the thread and the people read as usual. */
const sendsOffline = apiRoutes((method, _path, request) => {
  if (method === 'POST') throw new TypeError('Failed to fetch')
  return threadApi(request)
})

/** Another tab of the page's origin wrote `key` (jsdom tells no other document; a memory storage tells nobody). */
const storageChanged = (key: string) =>
  act(() => void window.dispatchEvent(new StorageEvent('storage', { key, newValue: null })))

/** The thread's messages as the page shows them: text, status, and whether they can be acted on here. */
const shown = () =>
  [...page.container.querySelectorAll<HTMLElement>('[data-testid=message]')].map((m) => [
    m.querySelector('.msg-body')?.textContent,
    m.dataset.status,
    m.querySelectorAll('button').length,
  ])

/** Alice's two tabs on one storage: `writer` (holding the socket) writes; `reader` is drawn at her thread c1. */
async function twoTabs() {
  const storage = createMemoryStorage()
  const { sockets, tab } = aliceTabs({ storage, fetchFn: sendsOffline })
  const writer = tab('t1')
  await eventually(() => expect(selectConnection(writer.getState()).role).toBe('leader'))
  const reader = tab('t2')
  await eventually(() => expect(selectConnection(reader.getState()).role).toBe('follower'))
  renderApp(page.root, reader)
  await eventually(() => expect(shown()).toEqual([['message 1', 'sent', 0]]))
  const write = (content: string, clientId: string) =>
    act(() => void writer.dispatch(sendMessage({ conversationId: 'c1', content, clientId })))
  const dispose = () => {
    act(() => reader.dispose())
    writer.dispose()
  }
  return { storage, sockets, writer, reader, write, dispose }
}

describe("a message waiting in another of the user's tabs", () => {
  test('is shown pending in this one, in the order written, with nothing to act on; each once', async () => {
    const { writer, reader, write, dispose } = await twoTabs()
    write('written there', 'k1')
    write('and another', 'k2')
    expect(writer.getState().socket.outbox.map((m) => m.status)).toEqual(['pending', 'pending'])
    storageChanged(outboxStorageKey(alice.id))
    await eventually(() =>
      expect(shown()).toEqual([
        ['message 1', 'sent', 0],
        ['written there', 'pending', 0],
        ['and another', 'pending', 0],
      ]),
    )
    const copy = page.container.querySelector('[data-client-id=k1]')!
    expect(copy.querySelector('.msg-meta')?.textContent).toBe('Sending…')
    // Written here and there in turn: each once (this tab's own copy, not also the stored one), in the order written.
    const here = (content: string, clientId: string) =>
      act(() => void reader.dispatch(sendMessage({ conversationId: 'c1', content, clientId })))
    here('written here', 'k3')
    write('there again', 'k4')
    here('here again', 'k5')
    storageChanged(outboxStorageKey(alice.id))
    await eventually(() =>
      expect(shown().map(([text]) => text)).toEqual([
        'message 1',
        'written there',
        'and another',
        'written here',
        'there again',
        'here again',
      ]),
    )
    for (const k of ['k1', 'k2', 'k3', 'k4', 'k5'])
      expect(page.container.querySelectorAll(`[data-client-id=${k}]`)).toHaveLength(1)
    dispose()
  })

  test('goes when its send is confirmed, replaced by the message in the same render, never both', async () => {
    const { sockets, write, dispose } = await twoTabs()
    write('written there', 'k1')
    storageChanged(outboxStorageKey(alice.id))
    await eventually(() => expect(shown()).toHaveLength(2))
    // Back online: the confirmation reaches this tab through the socket before (or without) the storage event.
    const sentCopies: number[] = []
    const observer = new MutationObserver(() =>
      sentCopies.push(page.container.querySelectorAll('[data-client-id=k1]').length),
    )
    observer.observe(page.container, { childList: true, subtree: true, attributes: true })
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    act(() =>
      sockets.last.serverEmit(
        'message:new',
        message(2, { senderId: alice.id, content: 'written there', clientId: 'k1' }),
        { offset: 1 },
      ),
    )
    await eventually(() =>
      expect(shown()).toEqual([
        ['message 1', 'sent', 0],
        ['written there', 'sent', 0],
      ]),
    )
    storageChanged(outboxStorageKey(alice.id))
    expect(shown()).toEqual([
      ['message 1', 'sent', 0],
      ['written there', 'sent', 0],
    ])
    observer.disconnect()
    expect(sentCopies.filter((n) => n > 1)).toEqual([])
    dispose()
  })

  test('goes when discarded in its tab, and when refused there (its Retry and Discard are there)', async () => {
    const { storage, writer, write, dispose } = await twoTabs()
    write('discarded there', 'k1')
    write('refused there', 'k2')
    storageChanged(outboxStorageKey(alice.id))
    await eventually(() => expect(shown()).toHaveLength(3))
    const stored = storage.getItem(outboxStorageKey(alice.id))
    act(() => void writer.dispatch(discardMessage({ clientId: 'k1' })))
    storageChanged(outboxStorageKey(alice.id))
    await eventually(() => expect(shown().map(([text]) => text)).toEqual(['message 1', 'refused there']))
    // A tab that had not heard of the discard writes it back: it stays gone (no tab will send it).
    storage.setItem(outboxStorageKey(alice.id), stored!)
    storageChanged(outboxStorageKey(alice.id))
    expect(shown().map(([text]) => text)).toEqual(['message 1', 'refused there'])
    act(() => void writer.dispatch(sendFailed({ clientId: 'k2', error: { code: 'FORBIDDEN', message: 'no' } })))
    storageChanged(outboxStorageKey(alice.id))
    await eventually(() => expect(shown()).toEqual([['message 1', 'sent', 0]]))
    dispose()
  })
})
