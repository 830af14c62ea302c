import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { api, layerClient, selectConnection, type LayerClient } from '../../bench/lib/layer'
import { untilState } from '../../bench/lib/probe'
import { startHost, type Host } from '../../bench/lib/server'

// P2 bursts `message:new` from the bench's host. The server's notifier sends every logged event with its trailing
// `{ offset }`, and the layer takes such an event through its offset gate and advances its applied offset; one
// without it skips all that (the contract lets a handler cope with none). A burst without offsets timed a path no
// real `message:new` takes.

let host: Host
let client: LayerClient

beforeAll(async () => {
  host = await startHost({ seedPairs: 1 })
}, 180_000)

afterAll(async () => {
  await client?.close()
  await host?.close()
})

describe("the bench host's burst (P2)", () => {
  test('carries the offsets the server’s notifier gives logged events: the layer applies each one', async () => {
    const pair = host.seeded[0]!
    client = await layerClient({
      url: host.url,
      session: { token: pair.b.token, user: { id: pair.b.id, name: pair.b.id, role: 'tutor' } },
    })
    await client.subscribeThread(pair.conversationId)
    const synced = (s: ReturnType<LayerClient['store']['getState']>) => {
      const c = selectConnection(s)
      return c.offset !== null && !c.syncing
    }
    await untilState(client.store, synced, 'the first sync')
    const applied = selectConnection(client.store.getState()).offset!
    const count = 50
    await host.call('burst', {
      userId: pair.b.id,
      conversationId: pair.conversationId,
      senderId: pair.a.id,
      firstSeq: 1_000_000,
      firstOffset: applied + 1,
      count,
      idPrefix: 'offsets',
    })
    const select = api.endpoints.getMessages.select(pair.conversationId)
    await untilState(
      client.store,
      (s) => select(s).data?.at(-1)?.id === `offsets-${count - 1}`,
      'the burst in the cached thread',
    )
    expect(selectConnection(client.store.getState()).offset).toBe(applied + count)
  })
})
