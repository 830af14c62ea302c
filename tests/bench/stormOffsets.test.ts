import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { layerClient, selectConnection, type LayerClient } from '../../bench/lib/layer'
import { untilState } from '../../bench/lib/probe'
import { startHost, type Host } from '../../bench/lib/server'

// P3's storm sends `lesson:statusUpdated` from the bench's host. The server logs every lesson change and its notifier
// sends it with a trailing `{ offset }`, which takes the event through the layer's offset gate and advances its
// applied offset; one without it skips all that. A storm without offsets timed a path no real event takes.

let host: Host
let client: LayerClient

beforeAll(async () => {
  host = await startHost({ seedPairs: 1 })
}, 180_000)

afterAll(async () => {
  await client?.close()
  await host?.close()
})

describe("the bench host's lesson storm (P3)", () => {
  test('carries the offsets the server’s notifier gives logged events: the layer applies each one', async () => {
    const pair = host.seeded[0]!
    const count = 20
    let received = 0
    client = await layerClient({
      url: host.url,
      session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } },
      probes: [
        () => (next) => (action) => {
          if ((action as { type?: string }).type === 'socket/lesson:statusUpdated') received++
          return next(action)
        },
      ],
    })
    await client.subscribeLessons()
    const synced = (s: ReturnType<LayerClient['store']['getState']>) => {
      const c = selectConnection(s)
      return c.offset !== null && !c.syncing
    }
    await untilState(client.store, synced, 'the first sync')
    const applied = selectConnection(client.store.getState()).offset!
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
})
