import { describe, expect, it } from 'vitest'
import { LiveDelivery } from '../../server/realtime/delivery'
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

  it('pauseAll: each live socket back to holding, with the offset up to which it was sent everything (gaps left open)', () => {
    const delivery = new LiveDelivery()
    const bob = fakeSocket('bob')
    const carol = fakeSocket('carol')
    delivery.add(bob.socket)
    delivery.add(carol.socket)
    delivery.goLive(bob.socket, 3)
    // 4 and 6 came, 5 was lost on the way (out of order between nodes): a replay must start after 4, not after 6.
    delivery.deliver([event('bob', 4), event('bob', 6)])
    // Carol is still replaying: she is not paused again (her own hand-over is under way).
    expect(delivery.pauseAll()).toEqual([[bob.socket, 4]])
    delivery.deliver([event('bob', 7)])
    expect(sentOffsets(bob.sent)).toEqual([4, 6])
    // The replay after 4 sent 5..7: the held 7 is dropped, and what comes next passes.
    delivery.goLive(bob.socket, 7)
    delivery.deliver([event('bob', 8)])
    expect(sentOffsets(bob.sent)).toEqual([4, 6, 8])
    expect(delivery.pauseAll()).toEqual([[bob.socket, 8]])
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
