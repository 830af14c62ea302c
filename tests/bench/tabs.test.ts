import { afterEach, describe, expect, test, vi } from 'vitest'
import type { TabChannel, TabMessage } from '../../src/realtime/tabs/protocol'
import { createBroadcastTabChannel } from '../../src/realtime/tabs/memoryChannel'
import { createMemoryTabLock } from '../../src/realtime/tabs/tabLock'

// The edges the bench's "tabs" run on in one Node process (P11, P12, P15; bench/lib/tabs.ts): the layer's in-memory
// Web Locks and Node's BroadcastChannel. Their semantics are what the figures' handoffs rest on.

const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

function tracker() {
  const events: string[] = []
  const handlers = (who: string) => ({
    onAcquired: () => events.push(`${who} acquired`),
    onLost: () => events.push(`${who} lost`),
  })
  return { events, handlers }
}

describe('the bench’s lock: createMemoryTabLock', () => {
  test('grants in request order, later than the request, and the next waiter once the holder gives up', async () => {
    const locks = createMemoryTabLock()
    const { events, handlers } = tracker()
    const releaseA = locks.tab('a').request('l', { steal: false }, handlers('a'))
    locks.tab('b').request('l', { steal: false }, handlers('b'))
    expect(events).toEqual([])
    await flush()
    expect(events).toEqual(['a acquired'])
    expect(locks.holder('l')).toBe('a')
    releaseA()
    await flush()
    expect(events).toEqual(['a acquired', 'b acquired'])
    expect(locks.holder('l')).toBe('b')
  })

  test('steal takes the lock from its holder (who is told) and leaves the queue as it was', async () => {
    const locks = createMemoryTabLock()
    const { events, handlers } = tracker()
    locks.tab('a').request('l', { steal: false }, handlers('a'))
    await flush()
    locks.tab('b').request('l', { steal: false }, handlers('b'))
    const releaseC = locks.tab('c').request('l', { steal: true }, handlers('c'))
    await flush()
    expect(events).toEqual(['a acquired', 'a lost', 'c acquired'])
    expect(locks.holder('l')).toBe('c')
    releaseC()
    await flush()
    expect(events.at(-1)).toBe('b acquired')
  })

  test('closeTab releases what the tab held and drops its queued requests, telling it nothing', async () => {
    const locks = createMemoryTabLock()
    const { events, handlers } = tracker()
    locks.tab('a').request('l', { steal: false }, handlers('a'))
    locks.tab('a').request('m', { steal: false }, handlers('a-m'))
    await flush()
    locks.tab('b').request('m', { steal: false }, handlers('b-m'))
    locks.tab('a').request('n', { steal: false }, handlers('a-n'))
    locks.tab('c').request('l', { steal: false }, handlers('c'))
    await flush()
    expect(locks.holder('n')).toBe('a')
    locks.closeTab('a')
    await flush()
    expect(events.filter((e) => e.includes('lost'))).toEqual([])
    expect([locks.holder('l'), locks.holder('m'), locks.holder('n')]).toEqual(['c', 'b', null])
    // A queued request of the closed tab never fires.
    locks.tab('b').request('q', { steal: false }, handlers('b-q'))
    locks.tab('a').request('q', { steal: false }, handlers('a-q'))
    await flush()
    locks.closeTab('a')
    locks.closeTab('b')
    locks.tab('d').request('q', { steal: false }, handlers('d-q'))
    await flush()
    expect(events).not.toContain('a-q acquired')
    expect(locks.holder('q')).toBe('d')
  })
})

describe('the bench’s channel: createBroadcastTabChannel', () => {
  const open: TabChannel[] = []
  afterEach(() => {
    for (const channel of open.splice(0)) channel.close()
  })

  test('a post reaches every other channel of the name, cloned and later, never the sender or another name', async () => {
    const [a, b, c, other] = ['x', 'x', 'x', 'y'].map((name) => createBroadcastTabChannel(`bench-test-${name}`))
    open.push(a!, b!, c!, other!)
    const got: Record<string, TabMessage[]> = { a: [], b: [], c: [], other: [] }
    a!.subscribe((m) => got.a!.push(m))
    b!.subscribe((m) => got.b!.push(m))
    c!.subscribe((m) => got.c!.push(m))
    other!.subscribe((m) => got.other!.push(m))
    const message: TabMessage = { kind: 'heartbeat', from: 'tab-a', term: 3 }
    a!.post(message)
    expect(got.b).toEqual([])
    // A marker from b proves delivery to a, c and other has happened (one ordered queue per name).
    const marker: TabMessage = { kind: 'resign', from: 'tab-b', term: 3 }
    await vi.waitFor(() => expect(got.c).toEqual([message]), { timeout: 10_000 })
    b!.post(marker)
    other!.post(marker)
    await vi.waitFor(() => expect(got.a).toEqual([marker]), { timeout: 10_000 })
    expect(got.b).toEqual([message])
    expect(got.b![0]).not.toBe(message)
    expect(got.c).toEqual([message, marker])
    expect(got.other).toEqual([])
  })
})
