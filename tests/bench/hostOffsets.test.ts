import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { closeSocket, rawSocket } from '../../bench/lib/clients'
import { api, layerClient, selectConnection, type LayerClient } from '../../bench/lib/layer'
import { untilState } from '../../bench/lib/probe'
import { startHost, type Host } from '../../bench/lib/server'

// P2 bursts `message:new` and P3 storms `lesson:statusUpdated` from the bench's host. The server's notifier sends every
// logged event with its trailing `{ offset }`, and the layer takes such an event through its offset gate and advances
// its applied offset; one without it skips all that (the contract lets a handler cope with none). Events without
// offsets timed a path no real event takes.

let host: Host
const clients: LayerClient[] = []

beforeAll(async () => {
  host = await startHost({ seedPairs: 1 })
}, 180_000)

afterAll(async () => {
  for (const client of clients) await client.close()
  await host?.close()
})

/** The offset the store applied at its first sync (the host's events follow it). */
async function firstSyncOffset(client: LayerClient): Promise<number> {
  const synced = (s: ReturnType<LayerClient['store']['getState']>) => {
    const c = selectConnection(s)
    return c.offset !== null && !c.syncing
  }
  await untilState(client.store, synced, 'the first sync')
  return selectConnection(client.store.getState()).offset!
}

describe("the bench host's events carry the offsets the server's notifier gives logged events", () => {
  test('the burst (P2): the layer applies each one', async () => {
    const pair = host.seeded[0]!
    const client = await layerClient({
      url: host.url,
      session: { token: pair.b.token, user: { id: pair.b.id, name: pair.b.id, role: 'tutor' } },
    })
    clients.push(client)
    await client.subscribeThread(pair.conversationId)
    const applied = await firstSyncOffset(client)
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

  test('the lesson storm (P3): the layer applies each one', async () => {
    const pair = host.seeded[0]!
    const count = 20
    let received = 0
    const client = await layerClient({
      url: host.url,
      session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } },
      probes: [
        () => (next) => (action) => {
          if ((action as { type?: string }).type === 'socket/lesson:statusUpdated') received++
          return next(action)
        },
      ],
    })
    clients.push(client)
    await client.subscribeLessons()
    const applied = await firstSyncOffset(client)
    const { sent } = await host.call('lessonStorm', {
      studentId: pair.a.id,
      tutorId: pair.b.id,
      firstOffset: applied + 1,
      count,
      durationMs: 20,
      idPrefix: 'storm-offsets',
    })
    expect(sent).toBe(count)
    // The storm's events are dispatched whether or not they carry offsets; once all are in, the offset is read.
    await untilState(client.store, () => received === count, 'every storm event dispatched')
    expect(selectConnection(client.store.getState()).offset).toBe(applied + count)
  })

  test("the lesson storm (P3) sends the student's offsets to no socket of the tutor's", async () => {
    const pair = host.seeded[0]!
    // Offsets are per user's log: the student's, on the tutor's socket, would be read against the tutor's log.
    const tutor = await rawSocket(host.url, pair.b.token, { transports: ['websocket'] })
    try {
      const seen: unknown[] = []
      tutor.on('lesson:statusUpdated', (_lesson: unknown, meta: unknown) => seen.push(meta))
      // A burst to the tutor after the storm, on the same socket: once it is in, any storm event would be too.
      const fence = new Promise<void>((resolve) => tutor.once('message:new', () => resolve()))
      await host.call('lessonStorm', {
        studentId: pair.a.id,
        tutorId: pair.b.id,
        firstOffset: 1,
        count: 5,
        durationMs: 10,
        idPrefix: 'storm-tutor',
      })
      await host.call('burst', {
        userId: pair.b.id,
        conversationId: pair.conversationId,
        senderId: pair.a.id,
        firstSeq: 2_000_000,
        firstOffset: 1,
        count: 1,
        idPrefix: 'storm-tutor-fence',
      })
      await fence
      expect(seen).toEqual([])
    } finally {
      await closeSocket(tutor)
    }
  })
})
