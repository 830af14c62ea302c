import { describe, expect, it } from 'vitest'
import type { Logger } from '../../server/logger'
import { LiveDelivery } from '../../server/realtime/delivery'
import { LogTailCheck } from '../../server/realtime/logTail'
import type { TalemySocket } from '../../server/realtime/types'
import type { LoggedEvent } from '../../server/services/eventLog'

/** A socket as far as delivery sees one: its user and what it was sent. */
function fakeSocket(userId: string) {
  const sent: [string, unknown, unknown][] = []
  const socket = {
    data: { userId },
    emit: (event: string, payload: unknown, meta: unknown) => void sent.push([event, payload, meta]),
  }
  return { socket: socket as unknown as TalemySocket, sent }
}

const event = (userId: string, offset: number): LoggedEvent => ({
  userId,
  offset,
  event: 'message:new',
  payload: { n: offset },
})
const sentOffsets = (sent: [string, unknown, unknown][]) =>
  sent.map(([, , meta]) => (meta as { offset: number }).offset)

describe('LiveDelivery: the hand-over from a replay to live events', () => {
  /** Bob's socket live after a replay up to 3; Carol's added, her replay still running. */
  function bobLiveCarolReplaying() {
    const delivery = new LiveDelivery()
    const bob = fakeSocket('bob')
    const carol = fakeSocket('carol')
    delivery.add(bob.socket)
    delivery.add(carol.socket)
    delivery.goLive(bob.socket, 3)
    return { delivery, bob, carol }
  }

  it('holds live events during the replay, then sends those above the replayed offset once, in offset order', () => {
    const delivery = new LiveDelivery()
    const bob = fakeSocket('bob')
    delivery.add(bob.socket)
    // Heard live while the replay (of 1..5) runs: some already replayed, some after it, out of order, one twice.
    delivery.deliver([event('bob', 7), event('bob', 4), event('bob', 6), event('bob', 7), event('bob', 5)])
    expect(bob.sent).toEqual([])
    delivery.goLive(bob.socket, 5)
    expect(sentOffsets(bob.sent)).toEqual([6, 7])
    expect(bob.sent[0]).toEqual(['message:new', { n: 6 }, { offset: 6 }])
  })

  it('passes live events after the hand-over as they come, and drops late copies of replayed ones', () => {
    const delivery = new LiveDelivery()
    const bob = fakeSocket('bob')
    delivery.add(bob.socket)
    delivery.goLive(bob.socket, 3)
    delivery.deliver([event('bob', 3), event('bob', 5), event('bob', 4)])
    expect(sentOffsets(bob.sent)).toEqual([5, 4])
  })

  it('live and pause: a live socket back to holding, with the offset up to which it was sent everything (gaps left open)', () => {
    const { delivery, bob, carol } = bobLiveCarolReplaying()
    // 4 and 6 came, 5 was lost on the way (out of order between nodes): a replay must start after 4, not after 6.
    delivery.deliver([event('bob', 4), event('bob', 6)])
    // Carol is still replaying: not live, and not paused again (her own hand-over is under way).
    expect(delivery.live()).toEqual([[bob.socket, 4]])
    expect(delivery.users().sort()).toEqual(['bob', 'carol'])
    expect(delivery.pause(carol.socket)).toBeUndefined()
    expect(delivery.pause(bob.socket)).toBe(4)
    expect(delivery.pause(bob.socket)).toBeUndefined()
    delivery.deliver([event('bob', 7)])
    expect(sentOffsets(bob.sent)).toEqual([4, 6])
    // The replay after 4 sent 5..7: the held 7 is dropped, and what comes next passes.
    delivery.goLive(bob.socket, 7)
    delivery.deliver([event('bob', 8)])
    expect(sentOffsets(bob.sent)).toEqual([4, 6, 8])
    expect(delivery.live()).toEqual([[bob.socket, 8]])
  })

  it('notifications lost: the live sockets are named for a resync, the replaying ones marked stale (told once)', () => {
    const { delivery, bob, carol } = bobLiveCarolReplaying()
    expect(delivery.takeStale(carol.socket)).toBe(false)
    expect(delivery.notificationsLost()).toEqual([bob.socket])
    expect(delivery.takeStale(bob.socket)).toBe(false)
    // Carol's replay read her log before the loss: she reads it again before going live, once.
    expect(delivery.takeStale(carol.socket)).toBe(true)
    expect(delivery.takeStale(carol.socket)).toBe(false)
    // Bob paused for his resync reads after the loss: not stale.
    delivery.pause(bob.socket)
    expect(delivery.takeStale(bob.socket)).toBe(false)
  })

  it('sends a live event heard twice once (a publish Redis delivered twice, or ioredis sent again after a lost reply)', () => {
    const delivery = new LiveDelivery()
    const bob = fakeSocket('bob')
    delivery.add(bob.socket)
    delivery.goLive(bob.socket, 3)
    delivery.deliver([event('bob', 5)])
    delivery.deliver([event('bob', 4), event('bob', 5)])
    delivery.deliver([event('bob', 4)])
    // A listener reading only the payload (the contract allows it) would show a copy as a second message.
    expect(sentOffsets(bob.sent)).toEqual([5, 4])
  })

  it("sends a user's events to that user's sockets only, and nothing to a removed socket", () => {
    const delivery = new LiveDelivery()
    const bob = fakeSocket('bob')
    const carol = fakeSocket('carol')
    const gone = fakeSocket('bob')
    for (const s of [bob, carol, gone]) {
      delivery.add(s.socket)
      delivery.goLive(s.socket, 0)
    }
    delivery.remove(gone.socket)
    delivery.deliver([event('bob', 1), event('carol', 1), event('bob', 2)])
    expect(sentOffsets(bob.sent)).toEqual([1, 2])
    expect(sentOffsets(carol.sent)).toEqual([1])
    expect(gone.sent).toEqual([])
  })
})

describe('LogTailCheck: events committed without a notification', () => {
  /** A check over a real LiveDelivery, with the log heads and the resyncs in the test's hands. */
  function setUp() {
    const delivery = new LiveDelivery()
    const heads = new Map<string, number>()
    const resynced: TalemySocket[] = []
    const warnings: string[] = []
    let headsAnswer: (() => Promise<Map<string, number>>) | undefined
    const check = new LogTailCheck({
      delivery,
      heads: async (userIds) =>
        headsAnswer ? headsAnswer() : new Map(userIds.flatMap((id) => (heads.has(id) ? [[id, heads.get(id)!]] : []))),
      // As the server's: the socket holds its live events until its replay is handed over.
      resync: (socket) => {
        resynced.push(socket)
        delivery.pause(socket)
      },
      periodMs: 1_000,
      logger: {
        warn: (_data: unknown, message: string) => void warnings.push(message),
        info: (message: string) => void warnings.push(message),
      } as unknown as Logger,
    })
    const live = (userId: string, upTo: number) => {
      const s = fakeSocket(userId)
      delivery.add(s.socket)
      delivery.goLive(s.socket, upTo)
      return s
    }
    return {
      delivery,
      heads,
      resynced,
      warnings,
      check,
      live,
      answerHeads: (f: typeof headsAnswer) => (headsAnswer = f),
    }
  }

  it('resyncs a socket only once an event that was in its log a whole check ago has still not been sent', async () => {
    const { delivery, heads, resynced, check, live } = setUp()
    const bob = live('bob', 3)
    heads.set('bob', 4)
    await check.check()
    // One period of slack: the notification may be on its way.
    expect(resynced).toEqual([])
    heads.set('bob', 5)
    await check.check()
    expect(resynced).toEqual([bob.socket])
    // Caught up in between: not a suspect.
    const carol = live('carol', 1)
    heads.set('carol', 2)
    await check.check()
    delivery.deliver([event('carol', 2)])
    await check.check()
    expect(resynced).toEqual([bob.socket])
    expect(resynced).not.toContain(carol.socket)
  })

  it('leaves sockets that are up to date or still replaying alone, and asks nothing when none is here', async () => {
    const { delivery, heads, resynced, check, live, answerHeads } = setUp()
    let asked = 0
    answerHeads(async () => {
      asked++
      return new Map(heads)
    })
    await check.check()
    expect(asked).toBe(0)
    live('bob', 4)
    const replaying = fakeSocket('carol')
    delivery.add(replaying.socket)
    heads.set('bob', 4)
    heads.set('carol', 9)
    await check.check()
    await check.check()
    expect(asked).toBe(2)
    expect(resynced).toEqual([])
  })

  it('logs a failed read of the heads once per streak of failures, and checks again next time', async () => {
    const { heads, resynced, warnings, check, live, answerHeads } = setUp()
    const bob = live('bob', 1)
    heads.set('bob', 2)
    await check.check()
    answerHeads(() => Promise.reject(new Error('database gone')))
    for (let pass = 0; pass < 3; pass++) await check.check()
    expect(warnings).toEqual(['log tail check failed'])
    answerHeads(undefined)
    await check.check()
    expect(resynced).toEqual([bob.socket])
    answerHeads(() => Promise.reject(new Error('database gone')))
    await check.check()
    expect(warnings).toEqual(['log tail check failed', 'log tail check works again', 'log tail check failed'])
  })
})
