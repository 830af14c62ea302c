import { expect, test } from 'vitest'
import { createTabHub } from '../../../src/realtime/tabs/hub'
import { createMemoryChannelBus } from '../../../src/realtime/tabs/memoryChannel'
import type { TabMessage } from '../../../src/realtime/tabs/protocol'
import { FakeSocket } from '../support/fakeSocket'
import { freezablePage } from './support/freezablePage'
import { fakeVisibility } from './support/tabBus'
import { createVirtualTime } from './support/virtualTime'

// The holder's page was busy (a long task, a GC, the OS not scheduling it) for longer than a follower's silence while
// its followers kept saying `alive`: on waking it runs its overdue timers and the messages queued meanwhile on the
// channel in an order the browser does not promise (timers and messages are different task sources); here the worst
// one, its timers first. The real hub on a virtual clock; the channel takes 1 ms.

const HEARTBEAT_MS = 500
const MISSED_BEATS = 3

function browser() {
  const time = createVirtualTime()
  const bus = createMemoryChannelBus({ deliver: (fn) => time.after(1, fn) })
  const socket = new FakeSocket('http://test', {})
  const page = freezablePage(time, bus.channel())
  /** What the hub told (`gone true`: a follower counted gone for its silence), stamped with the clock. */
  const log: string[] = []
  createTabHub({
    tabId: 'holder',
    userId: 'alice',
    channel: page.channel,
    socket,
    visibility: fakeVisibility(true),
    timers: page.timers,
    now: time.now,
    heartbeatMs: HEARTBEAT_MS,
    missedBeats: MISSED_BEATS,
    onFollowerGone: (silent) => log.push(`${time.now()} gone ${silent}`),
  })

  /**
   * A follower that attaches (again when told it is not attached, or on `up`), then says `alive` each beat until
   * `silentFrom`; what the hub told it is logged.
   */
  function follower(id: string, silentFrom = Number.POSITIVE_INFINITY) {
    const end = bus.channel()
    end.subscribe((message: TabMessage) => {
      if ('to' in message && message.to !== id) return
      if (message.kind === 'down' && 'to' in message) log.push(`${time.now()} ${id} down ${message.reason}`)
      if (time.now() < silentFrom && (message.kind === 'up' || (message.kind === 'down' && 'to' in message))) attach()
    })
    const attach = () =>
      end.post({
        kind: 'attach',
        from: id,
        attachId: 1,
        userId: 'alice',
        resume: { offset: 0, epoch: 'e1' },
        visible: true,
      })
    const beat = () => {
      if (time.now() >= silentFrom) return
      end.post({ kind: 'alive', from: id, visible: true })
      time.after(HEARTBEAT_MS, beat)
    }
    attach()
    time.after(HEARTBEAT_MS, beat)
  }

  return {
    time,
    log,
    socket,
    follower,
    up() {
      socket.serverConnect('sock-1')
      socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    },
    /** The holder's page stops for `ms`; on thawing it runs its overdue timers, then what reached it meanwhile. */
    freeze: (ms: number) => page.freeze(ms),
  }
}

test('a holder frozen past the silence while its followers say alive keeps them on waking', () => {
  const b = browser()
  b.up()
  b.follower('f')
  b.time.runUntil(1000)
  b.freeze(3 * MISSED_BEATS * HEARTBEAT_MS)
  b.time.runUntil(20_000)
  expect(b.log).toEqual([])
})

test('a holder frozen past the silence still counts a follower that really went silent gone, a beat later', () => {
  const b = browser()
  b.up()
  b.follower('f')
  // Its last `alive` at 500 (heard at 501): silent from then on.
  b.follower('g', 600)
  b.time.runUntil(1000)
  b.freeze(3 * MISSED_BEATS * HEARTBEAT_MS)
  b.time.runUntil(20_000)
  // Thawed at 5500: the channel had its beat to deliver what queued meanwhile, and nothing came from `g`.
  expect(b.log).toEqual(['6000 gone true', '6001 g down silent'])
})

test('a holder frozen as its followers came back after a drop waits for their attach before counting them gone', () => {
  const b = browser()
  b.up()
  b.follower('f')
  b.time.runUntil(1000)
  b.socket.serverDrop()
  // Between two of its beats (one said while the hub comes up is answered "not attached", frozen or not).
  b.time.runUntil(2200)
  // Up again: `f` hears it and attaches again; the holder's page stops before its attach is delivered.
  b.up()
  b.freeze(3 * MISSED_BEATS * HEARTBEAT_MS)
  b.time.runUntil(20_000)
  expect(b.log).toEqual([])
})
