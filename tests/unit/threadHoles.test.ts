import { describe, expect, test } from 'vitest'
import { api, type ThreadMessage } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Message } from '../../src/contract'
import { mergeOlder } from '../../src/features/messages/order'
import { outboxStorageKey } from '../../src/realtime'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, message, pendingMessage } from './support/fixtures'
import { json } from './support/responses'

// "Load earlier" asks for what comes before the thread's first message: a thread whose stored messages leave a hole
// between them shows what is in the hole to nobody. A real store, a fake socket, the API as a `fetch`.

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const confirmedSeqs = (thread: readonly ThreadMessage[]) =>
  thread.filter((m) => m.status === undefined || m.status === 'sent').map((m) => m.seq)

/** The server's thread c1: Bob's messages 1..`last`, with `own` (Alice's) at its seq. */
function serverThread(last: number, own: Message) {
  const all = range(1, last).map((seq) => (seq === own.seq ? own : message(seq)))
  // GET …/messages: the latest 50, or the 50 before `before`.
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    if (url.pathname !== '/api/conversations/c1/messages' || request.method !== 'GET') return json(200, [])
    const before = url.searchParams.get('before')
    const below = before === null ? all : all.filter((m) => m.seq < Number(before))
    return json(200, below.slice(-50))
  }) as typeof fetch
}

describe('our send confirmed after the thread was read without it', () => {
  test('its answer puts no message above a hole: the messages between it and the thread stay reachable', async () => {
    // Alice pressed Send and closed the page before the answer came: the server stored it (seq 101), and Bob wrote 60
    // more. The page opens again: the thread's latest 50 (112..161) do not hold it, so its pending copy is shown and
    // it goes again; the server's answer (idempotent by clientId) is the stored message, seq 101.
    const own = message(101, { senderId: alice.id, clientId: 'k1', content: 'text k1' })
    const storage = createMemoryStorage()
    storage.setItem(outboxStorageKey(alice.id), JSON.stringify([pendingMessage('k1')]))
    const sockets = fakeSockets()
    const store = trackedStore({
      apiUrl: 'http://api.test',
      fetchFn: serverThread(161, own),
      createSocket: sockets.createSocket,
      storage,
      shareSocket: false,
      preloadedState: { auth: { token: 'token-1', user: alice } },
    })
    const thread = () => api.endpoints.getMessages.select('c1')(store.getState()).data ?? []
    await store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(thread().at(-1)).toMatchObject({ clientId: 'k1', status: 'pending' }))
    expect(confirmedSeqs(thread())).toEqual(range(112, 161))

    sockets.last.serverConnect()
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    sockets.last.sent('message:send')[0]!.ack({ ok: true, data: own })
    await eventually(() => expect(thread().some((m) => m.status === 'pending')).toBe(false))

    // No hole: every stored message from the thread's first to its last is there…
    const seqs = confirmedSeqs(thread())
    expect(seqs).toEqual(range(seqs[0]!, seqs.at(-1)!))
    // …so "Load earlier" (as the thread page does it) brings ours, once, with nothing missing around it.
    const older = await store
      .dispatch(api.endpoints.getMessagesBefore.initiate({ conversationId: 'c1', before: seqs[0]!, limit: 50 }))
      .unwrap()
    store.dispatch(api.util.updateQueryData('getMessages', 'c1', (draft) => mergeOlder(draft, older)))
    expect(confirmedSeqs(thread())).toEqual(range(seqs[0]! - 50, 161))
    expect(thread().filter((m) => m.clientId === 'k1')).toHaveLength(1)
    store.dispose()
  })
})
