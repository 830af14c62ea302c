import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { probeConnections } from '../../../server/cluster/connectionProbe'
import type { RedisLink } from '../../../server/cluster/redis'
import { capturedLog } from '../../support/capturedLog'

// When a connection is given up on: a slow answer, or one pause of this process, must not drop a live connection
// (ioredis sends its unanswered commands again on the next one, the subscriber misses what is published meanwhile).

/** A connection whose PINGs answer as told: `'answer'` at once, `'never'` not at all. */
function fakeConnection(answers: Array<'answer' | 'never'>) {
  const connection = Object.assign(new EventEmitter(), {
    status: 'ready',
    pings: 0,
    drops: 0,
    ping() {
      const how = answers[connection.pings++] ?? 'answer'
      return how === 'answer' ? Promise.resolve('PONG') : new Promise(() => {})
    },
    disconnect() {
      connection.drops++
      connection.status = 'reconnecting'
      queueMicrotask(() => {
        connection.emit('close')
        connection.status = 'ready'
      })
    },
  })
  return connection
}

function linkOf(sub: ReturnType<typeof fakeConnection>): RedisLink {
  const healthy = () => fakeConnection([]) as unknown as Redis
  return { client: healthy(), pub: healthy(), sub: sub as unknown as Redis } as RedisLink
}

describe('probeConnections', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('keeps a connection that misses one PING and answers the next', async () => {
    const sub = fakeConnection(['never', 'answer', 'never', 'answer'])
    const log = capturedLog('info')
    const stop = probeConnections(linkOf(sub), 1_000, log.logger)
    await vi.advanceTimersByTimeAsync(30_000)
    stop()
    expect(sub.pings).toBeGreaterThanOrEqual(4)
    expect(sub.drops).toBe(0)
    expect(log.lines().filter((line) => line.level >= 40)).toEqual([])
  })

  it('drops a connection that misses two PINGs in a row, once, says so once, and its recovery once', async () => {
    const sub = fakeConnection(['never', 'never'])
    const log = capturedLog('info')
    const stop = probeConnections(linkOf(sub), 1_000, log.logger)
    await vi.advanceTimersByTimeAsync(30_000)
    stop()
    expect(sub.drops).toBe(1)
    expect(log.lines().map((line) => [line.level, line.msg])).toEqual([
      [40, expect.stringMatching(/^Redis subscriber connection answered 2 PINGs in a row with nothing within 5 s/)],
      [30, 'Redis subscriber connection answers again'],
    ])
  })
})
