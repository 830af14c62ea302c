import { describe, expect, it } from 'vitest'
import { emitWithAck } from '../../../src/realtime/ack'
import type { AppSocket } from '../../../src/realtime'
import {
  SESSION_EXPIRED_REASON,
  type RawEvent,
  type ResumePoint,
  type TabMessage,
} from '../../../src/realtime/tabs/protocol'
import { createTabSocket, type TabSocketOptions } from '../../../src/realtime/tabs/tabSocket'
import { alice, bob, message } from '../support/fixtures'
import { fakeVisibility, manualTimers, memoryBus, scriptedHolder } from './support/tabBus'

const ME = 'tab-follower'
const caughtUp: RawEvent = { event: 'sync:caughtUp', args: [{ offset: 9, epoch: 'e1' }] }
const snapshot: RawEvent = {
  event: 'presence:snapshot',
  args: [{ users: [{ userId: bob.id, online: true, lastSeenAt: null }] }],
}
const newMessage = (seq: number, offset: number): RawEvent => ({
  event: 'message:new',
  args: [message(seq), { offset }],
})

/** A follower's proxy on a memory bus with a scripted holder; `log` records what its listeners heard, in order. */
function setup(over: Partial<TabSocketOptions> = {}) {
  const bus = memoryBus()
  const holder = scriptedHolder(bus)
  const timers = manualTimers()
  const visibility = fakeVisibility(true)
  let point: ResumePoint = { offset: 7, epoch: 'e1' }
  const tab = createTabSocket({
    tabId: ME,
    userId: alice.id,
    channel: bus.channel(),
    resume: () => point,
    visibility,
    timers,
    ...over,
  })
  const { socket } = tab
  const log: unknown[][] = []
  socket.onAny((event, ...args) => log.push(['any', event, ...args]))
  for (const event of [
    'connect',
    'disconnect',
    'message:new',
    'sync:caughtUp',
    'sync:gap',
    'presence:snapshot',
    'typing',
  ])
    socket.on(event, (...args) => log.push([event, ...args]))

  /** connect() and the holder's answer with `replay`. */
  function attach(replay: RawEvent[] = [], presence: RawEvent | null = snapshot, socketId = 'sock-1') {
    socket.connect()
    bus.deliver()
    holder.send({ kind: 'attached', to: ME, socketId, replay, sync: caughtUp, presence })
  }

  return {
    bus,
    holder,
    timers,
    visibility,
    tab,
    socket,
    log,
    attach,
    setResume: (next: ResumePoint) => void (point = next),
    /** What the proxy posted of one kind. */
    posted: <K extends TabMessage['kind']>(kind: K) => holder.received(kind),
  }
}

describe('connect and the holder’s answer', () => {
  it('connect() posts attach with the offset read at that moment and the page’s visibility', () => {
    const t = setup()
    t.setResume({ offset: 12, epoch: 'e2' })
    t.visibility.set(false)
    t.socket.connect()
    t.bus.deliver()
    expect(t.posted('attach')).toEqual([
      {
        kind: 'attach',
        from: ME,
        attachId: expect.any(Number),
        userId: alice.id,
        resume: { offset: 12, epoch: 'e2' },
        visible: false,
      },
    ])
    expect(t.socket.connected).toBe(false)
    expect(t.socket.id).toBeUndefined()
    expect(t.socket.recovered).toBe(false)
    expect(t.log).toEqual([])
  })

  it('only the answer to its last attach is taken: not an earlier one, nor one meant for a proxy this tab had before', () => {
    const old = setup()
    old.socket.connect()
    old.bus.deliver()
    const [first] = old.posted('attach')
    // The tab moves on (another session): a new proxy with the same tab id, for another user.
    const t = setup({ userId: 'user-bob' })
    t.socket.connect()
    t.bus.deliver()
    t.holder.send({
      kind: 'attached',
      to: ME,
      attachId: first!.attachId,
      socketId: 's',
      replay: [],
      sync: caughtUp,
      presence: null,
    })
    expect(t.socket.connected).toBe(false)
    // Asked again (no answer yet): an answer to the earlier attach is not taken either, the last one's is.
    t.timers.advance(500)
    t.bus.deliver()
    const [earlier, last] = t.posted('attach')
    expect(last!.attachId).not.toBe(earlier!.attachId)
    t.holder.send({
      kind: 'attached',
      to: ME,
      attachId: earlier!.attachId,
      socketId: 's',
      replay: [],
      sync: caughtUp,
      presence: null,
    })
    expect(t.socket.connected).toBe(false)
    t.holder.send({
      kind: 'attached',
      to: ME,
      attachId: last!.attachId,
      socketId: 's',
      replay: [],
      sync: caughtUp,
      presence: null,
    })
    expect(t.socket.connected).toBe(true)
  })

  it('a visibility change while an attach is unanswered is told at once (the holder may already count the tab in)', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    t.visibility.set(false)
    t.bus.deliver()
    expect(t.posted('alive')).toEqual([{ kind: 'alive', from: ME, visible: false }])
  })

  it('attached: connect, then each replayed event (onAny first), then sync, then presence, in one delivery', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    let seenOnConnect: unknown
    t.socket.on('connect', () => (seenOnConnect = { connected: t.socket.connected, id: t.socket.id }))
    const replay = [newMessage(1, 8), newMessage(2, 9)]
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay, sync: caughtUp, presence: snapshot })
    // One message was delivered (holder.send delivers exactly its own post) and everything came out of it.
    expect(t.log).toEqual([
      ['connect'],
      ['any', 'message:new', message(1), { offset: 8 }],
      ['message:new', message(1), { offset: 8 }],
      ['any', 'message:new', message(2), { offset: 9 }],
      ['message:new', message(2), { offset: 9 }],
      ['any', 'sync:caughtUp', { offset: 9, epoch: 'e1' }],
      ['sync:caughtUp', { offset: 9, epoch: 'e1' }],
      ['any', 'presence:snapshot', snapshot.args[0]],
      ['presence:snapshot', snapshot.args[0]],
    ])
    expect(seenOnConnect).toEqual({ connected: true, id: 'sock-1' })
    expect(t.socket.connected).toBe(true)
    expect(t.socket.id).toBe('sock-1')
  })

  it('without a presence snapshot, sync is the last thing it hears', () => {
    const t = setup()
    t.attach([], null)
    expect(t.log.map((entry) => entry[0])).toEqual(['connect', 'any', 'sync:caughtUp'])
  })

  it('an answer meant for another tab is not taken', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    t.holder.send({ kind: 'attached', to: 'tab-other', socketId: 'sock-1', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.connected).toBe(false)
    expect(t.log).toEqual([])
  })

  it('connect() while connected asks nothing again', () => {
    const t = setup()
    t.attach()
    t.socket.connect()
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(1)
  })

  it('a second answer while connected (two attaches crossed) is ignored: nothing is heard twice', () => {
    const t = setup()
    t.socket.connect()
    t.holder.send({ kind: 'up', userId: alice.id })
    expect(t.posted('attach')).toHaveLength(2)
    t.holder.send({
      kind: 'attached',
      to: ME,
      socketId: 'sock-1',
      replay: [newMessage(1, 8)],
      sync: caughtUp,
      presence: null,
    })
    t.holder.send({
      kind: 'attached',
      to: ME,
      socketId: 'sock-1',
      replay: [newMessage(1, 8)],
      sync: caughtUp,
      presence: null,
    })
    expect(t.log.filter((entry) => entry[0] === 'connect')).toHaveLength(1)
    expect(t.log.filter((entry) => entry[0] === 'message:new')).toHaveLength(1)
  })

  it('an answer to an attach it gave up on is dropped, and it detaches', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    t.socket.disconnect()
    t.bus.deliver()
    const detachesBefore = t.posted('detach').length
    t.holder.send({
      kind: 'attached',
      to: ME,
      socketId: 'sock-1',
      replay: [newMessage(1, 8)],
      sync: caughtUp,
      presence: null,
    })
    t.bus.deliver()
    expect(t.socket.connected).toBe(false)
    expect(t.log).toEqual([])
    expect(t.posted('detach')).toHaveLength(detachesBefore + 1)
    expect(t.posted('detach').at(-1)).toEqual({ kind: 'detach', from: ME })
  })
})

describe('a holder coming up', () => {
  it('while wanting and not connected, up from a holder of this user makes it attach again, from its offset now', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    t.setResume({ offset: 20, epoch: 'e1' })
    t.holder.send({ kind: 'up', userId: alice.id })
    t.bus.deliver()
    expect(t.posted('attach').map((m) => m.resume)).toEqual([
      { offset: 7, epoch: 'e1' },
      { offset: 20, epoch: 'e1' },
    ])
  })

  it('up from a holder of another user, up while connected and up without connect() change nothing', () => {
    const t = setup()
    t.holder.send({ kind: 'up', userId: alice.id })
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(0)
    t.socket.connect()
    t.holder.send({ kind: 'up', userId: bob.id })
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(1)
    t.holder.send({ kind: 'attached', to: ME, socketId: 's', replay: [], sync: caughtUp, presence: null })
    t.holder.send({ kind: 'up', userId: alice.id })
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(1)
  })
})

describe('the holder going down', () => {
  it('down: disconnected with "transport close", every pending ack fails at once, and it re-attaches on up', () => {
    const t = setup()
    t.attach()
    const timed: unknown[][] = []
    const plain: unknown[][] = []
    t.socket.timeout(5000).emit('message:send', { conversationId: 'c1' }, (...args: unknown[]) => timed.push(args))
    t.socket.emit('conversation:join', 'c1', (...args: unknown[]) => plain.push(args))
    t.bus.deliver()
    t.log.length = 0
    let ackedAtDisconnect: number | null = null
    t.socket.on('disconnect', () => (ackedAtDisconnect = timed.length + plain.length))

    t.holder.send({ kind: 'down', reason: 'io server disconnect' })

    expect(t.socket.connected).toBe(false)
    expect(t.socket.id).toBeUndefined()
    expect(t.log).toEqual([['disconnect', 'transport close']])
    // As socket.io-client's onclose: `disconnect` first, then the acks fail, synchronously (no timer fired).
    expect(ackedAtDisconnect).toBe(0)
    expect(t.timers.now()).toBe(0)
    expect(timed).toEqual([[expect.any(Error)]])
    expect(plain).toEqual([[expect.any(Error)]])

    // The old holder's late ack is nobody's now.
    const emitted = t.posted('emit')
    t.holder.send({ kind: 'ack', to: ME, id: emitted[0]!.id!, error: false, args: [{ ok: true, data: null }] })
    expect(timed).toHaveLength(1)

    t.holder.send({ kind: 'up', userId: alice.id })
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(2)
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-2', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.connected).toBe(true)
    expect(t.socket.id).toBe('sock-2')
  })

  it('the holder’s session is over: a refused handshake’s connect_error, attached or still asking, and no more asking', () => {
    const errors: string[] = []
    const attached = setup()
    attached.socket.on('connect_error', (error) => errors.push(`attached: ${(error as Error).message}`))
    attached.attach()
    attached.log.length = 0
    attached.holder.send({ kind: 'down', reason: SESSION_EXPIRED_REASON, userId: alice.id })
    expect(attached.socket.connected).toBe(false)
    expect(attached.log).toEqual([['disconnect', 'transport close']])

    const asking = setup()
    asking.socket.on('connect_error', (error) => errors.push(`asking: ${(error as Error).message}`))
    asking.socket.connect()
    asking.bus.deliver()
    // From whichever tab holds the socket: a tab still asking is attached to none.
    scriptedHolder(asking.bus, 'some-holder').send({ kind: 'down', reason: SESSION_EXPIRED_REASON, userId: alice.id })
    expect(errors).toEqual(['attached: UNAUTHORIZED', 'asking: UNAUTHORIZED'])
    // Nobody will answer for this session: no attach each heartbeat; the connection's next try asks again.
    asking.timers.advance(5_000)
    asking.bus.deliver()
    expect(asking.posted('attach')).toHaveLength(1)
    asking.socket.connect()
    asking.bus.deliver()
    expect(asking.posted('attach')).toHaveLength(2)
  })

  it('another user’s session being over, or one said by a holder it is not attached to, changes nothing', () => {
    const errors: unknown[] = []
    const t = setup()
    t.socket.on('connect_error', (error: unknown) => errors.push(error))
    t.attach()
    t.holder.send({ kind: 'down', reason: SESSION_EXPIRED_REASON, userId: bob.id })
    scriptedHolder(t.bus, 'old-holder').send({ kind: 'down', reason: SESSION_EXPIRED_REASON, userId: alice.id })
    expect(t.socket.connected).toBe(true)
    expect(errors).toEqual([])
  })

  it('the holder’s handshake failed: a connect_error as the holder got it (with its wait), and it goes on asking', () => {
    const t = setup()
    const errors: unknown[] = []
    t.socket.on('connect_error', (error: unknown) => errors.push(error))
    t.socket.connect()
    t.bus.deliver()
    t.holder.send({ kind: 'failed', userId: alice.id, message: 'xhr poll error', retryAfterMs: null })
    t.holder.send({ kind: 'failed', userId: alice.id, message: 'RATE_LIMITED', retryAfterMs: 60_000, to: ME })
    expect(errors.map((error) => (error as Error).message)).toEqual(['xhr poll error', 'RATE_LIMITED'])
    expect((errors[1] as { data?: unknown }).data).toEqual({ retryAfterMs: 60_000 })
    expect((errors[0] as { data?: unknown }).data).toBeUndefined()
    // Still asking each heartbeat: answered once the holder's socket is up.
    t.timers.advance(500)
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(2)
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.connected).toBe(true)
  })

  it('a failure for another tab, another user, a tab not asking, or one attached: nothing', () => {
    const t = setup()
    const errors: unknown[] = []
    t.socket.on('connect_error', (error: unknown) => errors.push(error))
    const failed = { kind: 'failed', userId: alice.id, message: 'xhr poll error', retryAfterMs: null } as const
    t.holder.send(failed)
    t.socket.connect()
    t.bus.deliver()
    t.holder.send({ ...failed, to: 'another-tab' })
    t.holder.send({ ...failed, userId: bob.id })
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: null })
    t.holder.send(failed)
    expect(t.socket.connected).toBe(true)
    expect(errors).toEqual([])
  })

  it('down from a tab it is not attached to is ignored', () => {
    const t = setup()
    t.attach()
    const stale = scriptedHolder(t.bus, 'old-holder')
    stale.send({ kind: 'down', reason: 'transport close' })
    expect(t.socket.connected).toBe(true)
    expect(t.log.filter((entry) => entry[0] === 'disconnect')).toEqual([])
  })

  it('an attach nobody answered is asked again every heartbeat, and no more once answered', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(1)
    t.timers.advance(499)
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(1)
    t.timers.advance(1)
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(2)
    t.holder.send({ kind: 'attached', to: ME, socketId: 's', replay: [], sync: caughtUp, presence: null })
    t.timers.advance(2000)
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(2)
    expect(t.posted('alive').length).toBeGreaterThan(0)
  })

  it('a down addressed to this tab (dropped as silent) disconnects and attaches again at once; one for another tab is ignored', () => {
    const t = setup()
    t.attach()
    t.holder.send({ kind: 'down', reason: 'silent', to: 'another-tab' })
    expect(t.socket.connected).toBe(true)
    t.holder.send({ kind: 'down', reason: 'silent', to: ME })
    expect(t.socket.connected).toBe(false)
    expect(t.log.filter((entry) => entry[0] === 'disconnect')).toEqual([['disconnect', 'transport close']])
    t.bus.deliver()
    // No `up` will come from a holder that stayed up: it asks again by itself, from its offset now.
    expect(t.posted('attach')).toHaveLength(2)
  })

  it('emits name the holder they are for', () => {
    const t = setup()
    t.attach()
    t.socket.emit('typing', { conversationId: 'c1' })
    t.bus.deliver()
    expect(t.posted('emit')).toMatchObject([{ to: 'holder-tab' }])
  })

  it('holderGone(of another holder) cuts nothing: the proxy stays attached to its own', () => {
    const t = setup()
    t.attach()
    t.tab.holderGone('an-older-holder')
    expect(t.socket.connected).toBe(true)
    t.tab.holderGone('holder-tab')
    expect(t.socket.connected).toBe(false)
  })

  it('holderGone(): the same as down, and the next holder’s up brings it back', async () => {
    const t = setup()
    t.attach()
    const result = emitWithAck(t.socket as unknown as AppSocket, { event: 'message:send', payload: {} } as never, 5000)
    t.log.length = 0
    t.tab.holderGone()
    expect(t.socket.connected).toBe(false)
    expect(t.log).toEqual([['disconnect', 'transport close']])
    // Failed at once: no timer of the injected clock had to run for it.
    await expect(result).resolves.toEqual({ kind: 'timeout' })
    expect(t.timers.now()).toBe(0)

    const next = scriptedHolder(t.bus, 'next-holder')
    next.send({ kind: 'up', userId: alice.id })
    t.bus.deliver()
    next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.connected).toBe(true)
    expect(t.socket.id).toBe('sock-9')
  })

  it('up from another holder while attached (the old one went without a word): disconnected, then attached to it', () => {
    const t = setup()
    t.attach()
    t.log.length = 0
    const next = scriptedHolder(t.bus, 'next-holder')
    t.setResume({ offset: 12, epoch: 'e1' })
    next.send({ kind: 'up', userId: alice.id })
    expect(t.socket.connected).toBe(false)
    expect(t.log).toEqual([['disconnect', 'transport close']])
    t.bus.deliver()
    expect(t.posted('attach').map((m) => m.resume)).toEqual([
      { offset: 7, epoch: 'e1' },
      { offset: 12, epoch: 'e1' },
    ])
    next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.connected).toBe(true)
    expect(t.socket.id).toBe('sock-9')
    // The old holder's events are nobody's now.
    t.holder.send({ kind: 'event', userId: alice.id, raw: newMessage(1, 13) })
    expect(t.log.filter((entry) => entry[0] === 'message:new')).toEqual([])
  })

  // The holder was robbed of the lock (its page frozen past the missed beats); before it hears of its loss, its socket's
  // handshake fails, and its hub says so to every tab and to this tab's new attach. The next holder is connecting fine.
  it.each([
    ['attached to it', (t: ReturnType<typeof setup>) => t.attach()],
    ['still asking it', (t: ReturnType<typeof setup>) => (t.socket.connect(), t.bus.deliver())],
  ])(
    'the handshake failure of a holder robbed of the socket, said after the next one’s up, is not taken (%s)',
    (_name, before) => {
      const t = setup()
      const errors: string[] = []
      t.socket.on('connect_error', (error: unknown) => errors.push((error as Error).message))
      before(t)
      const next = scriptedHolder(t.bus, 'next-holder')
      next.send({ kind: 'up', userId: alice.id })
      expect(t.socket.connected).toBe(false)
      const failed = { kind: 'failed', userId: alice.id, message: 'xhr poll error', retryAfterMs: null } as const
      t.holder.send(failed)
      t.holder.send({ ...failed, to: ME })
      // Its attach asked again at the next heartbeat, before the next holder's beat is heard: still not taken.
      t.timers.advance(500)
      t.bus.deliver()
      t.holder.send({ ...failed, to: ME })
      expect(errors).toEqual([])

      // The next holder's own failure is said, and its answer taken.
      next.send({ kind: 'failed', userId: alice.id, message: 'RATE_LIMITED', retryAfterMs: 5_000, to: ME })
      expect(errors).toEqual(['RATE_LIMITED'])
      next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
      expect(t.socket.id).toBe('sock-9')
    },
  )

  // The same holder, robbed of the lock by a tab just opened (whose beat does not outrank it, so neither its election nor
  // this tab's follows that beat), wakes with its socket up and checks its lock (an async query): meanwhile its hub
  // answers this tab's attach, asked on the next holder's `up` (posted as its hub starts, before its socket is up) or at
  // the next heartbeat. Taken, this tab would say "connected" through a socket about to close, then "reconnecting", then
  // "connected" again, and a send made meanwhile would fail at the drop and go again over HTTP.
  it.each([
    ['attached to it', (t: ReturnType<typeof setup>) => t.attach()],
    ['still asking it', (t: ReturnType<typeof setup>) => (t.socket.connect(), t.bus.deliver())],
  ])('the answer of a holder robbed of the socket, said after the next one’s up, is not taken (%s)', (_name, start) => {
    const t = setup()
    start(t)
    const next = scriptedHolder(t.bus, 'next-holder')
    next.send({ kind: 'up', userId: alice.id })
    expect(t.socket.connected).toBe(false)
    t.bus.deliver()
    t.log.length = 0
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: snapshot })
    expect(t.socket.connected).toBe(false)
    // Its attach asked again at the next heartbeat, before the next holder's beat is heard: still not taken.
    t.timers.advance(500)
    t.bus.deliver()
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: snapshot })
    expect(t.socket.connected).toBe(false)
    expect(t.log.filter((entry) => entry[0] === 'connect')).toEqual([])

    // The next holder's answer is taken, and the robbed one's going down then cuts nothing.
    next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.id).toBe('sock-9')
    t.holder.send({ kind: 'down', reason: 'lock lost', userId: alice.id })
    expect(t.socket.connected).toBe(true)
    expect(t.log.filter((entry) => entry[0] === 'connect' || entry[0] === 'disconnect')).toEqual([['connect']])
  })

  // The holder answered, then crashed; its answer is still on its way when the election hears the next holder beat:
  // the election says the holder it followed is gone, or (a tab just opened, that followed no one yet) only that the
  // next one beats.
  it.each([
    ['gone while the attach waited', (tab: ReturnType<typeof setup>['tab']) => tab.holderGone('holder-tab')],
    ['other than the one heard beating since', (tab: ReturnType<typeof setup>['tab']) => tab.holderIs('next-holder')],
  ])('an answer from a holder %s is not taken', (_name, crashedSaid) => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    crashedSaid(t.tab)
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: snapshot })
    // Not "connected" to a tab that is gone (no event, no ack would ever come through it): it asks the next one.
    expect(t.socket.connected).toBe(false)
    expect(t.log).toEqual([])
    const next = scriptedHolder(t.bus, 'next-holder')
    t.timers.advance(500)
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(2)
    next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.connected).toBe(true)
    expect(t.socket.id).toBe('sock-9')
  })

  // The holder this tab was attached to is declared gone (the election took the lock from it, silent past the missed
  // beats), and the connection asks again before any other holder is heard. That holder was only frozen: robbed, and
  // woken before it hears of its loss, its hub answers the new attach (and says its handshake failed), then goes down.
  it('a holder declared gone while attached: its answers to the next attach are not taken; a request settles once', () => {
    const t = setup()
    const errors: string[] = []
    t.socket.on('connect_error', (error: unknown) => errors.push((error as Error).message))
    t.attach()
    const sent: unknown[][] = []
    t.socket.timeout(5000).emit('message:send', { clientId: 'k1' }, (...args: unknown[]) => sent.push(args))
    t.bus.deliver()
    const [first] = t.posted('emit')
    t.tab.holderGone('holder-tab')
    expect(sent).toEqual([[expect.any(Error)]])
    t.log.length = 0

    // The connection's next try, which the next holder hears too.
    const next = scriptedHolder(t.bus, 'next-holder')
    t.socket.connect()
    t.bus.deliver()
    t.holder.send({ kind: 'failed', userId: alice.id, message: 'xhr poll error', retryAfterMs: null, to: ME })
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: snapshot })
    // Not "connected" through a tab declared gone, whose socket is about to close.
    expect(t.socket.connected).toBe(false)
    expect(t.log).toEqual([])
    expect(errors).toEqual([])
    // Its late ack of the send made through it settles nothing again.
    t.holder.send({ kind: 'ack', to: ME, id: first!.id!, error: false, args: [{ ok: true, data: null }] })
    expect(sent).toHaveLength(1)

    // The election hears the next holder beat, which answers the attach: taken; the old one's going down cuts nothing.
    t.tab.holderIs('next-holder')
    next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.id).toBe('sock-9')
    t.holder.send({ kind: 'down', reason: 'lock lost', userId: alice.id })
    expect(t.socket.connected).toBe(true)
    // A send through the next holder is answered by it alone, once.
    t.socket.timeout(5000).emit('message:send', { clientId: 'k2' }, (...args: unknown[]) => sent.push(args))
    t.bus.deliver()
    const second = t.posted('emit')[1]!
    expect(second.to).toBe('next-holder')
    t.holder.send({ kind: 'ack', to: ME, id: second.id!, error: false, args: ['from the old holder'] })
    next.send({ kind: 'ack', to: ME, id: second.id!, error: false, args: ['from the next holder'] })
    next.send({ kind: 'ack', to: ME, id: second.id!, error: false, args: ['again'] })
    expect(sent).toEqual([[expect.any(Error)], [null, 'from the next holder']])
    expect(t.log.filter((entry) => entry[0] === 'connect' || entry[0] === 'disconnect')).toEqual([['connect']])
  })

  // The next holder is already up (its `up` went out before this tab's election declared the old one gone) and hidden:
  // its beats come about once a minute. Its answer to the next attach is the holder's, not one to wait a beat for.
  it('a holder declared gone while attached: the next holder already up is taken at once, before its beat', () => {
    const t = setup()
    t.attach()
    t.tab.holderGone('holder-tab')
    const next = scriptedHolder(t.bus, 'next-holder')
    t.socket.connect()
    t.bus.deliver()
    next.send({ kind: 'attached', to: ME, socketId: 'sock-9', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.id).toBe('sock-9')
    expect(t.socket.connected).toBe(true)
  })

  // Declared gone, a holder may hold the socket again later (it left and came back, then won the lock): its `up`, or
  // the election hearing it beat as the holder it follows, makes its answers taken again.
  it.each([
    ['says up', (t: ReturnType<typeof setup>) => t.holder.send({ kind: 'up', userId: alice.id })],
    ['is heard beating', (t: ReturnType<typeof setup>) => (t.socket.connect(), t.tab.holderIs('holder-tab'))],
  ])('a holder declared gone that %s again is followed again', (_name, back) => {
    const t = setup()
    t.attach()
    t.tab.holderGone('holder-tab')
    back(t)
    t.bus.deliver()
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-2', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.id).toBe('sock-2')
  })

  it('only the last 8 holders said gone are kept: an older one is taken for the holder again', () => {
    const t = setup()
    t.socket.connect()
    t.bus.deliver()
    t.tab.holderGone('holder-tab')
    for (let i = 0; i < 8; i++) t.tab.holderGone(`later-${i}`)
    t.holder.send({ kind: 'attached', to: ME, socketId: 'sock-1', replay: [], sync: caughtUp, presence: null })
    expect(t.socket.id).toBe('sock-1')
  })

  it('holderGone() while not connected does nothing', () => {
    const t = setup()
    t.tab.holderGone()
    expect(t.log).toEqual([])
  })
})

describe('emits through the holder', () => {
  it('a timeout emit goes to the holder without its callback, and its ack comes back as cb(null, …args)', async () => {
    const t = setup()
    t.attach()
    const result = emitWithAck(
      t.socket as unknown as AppSocket,
      { event: 'message:send', payload: { conversationId: 'c1', content: 'hi', clientId: 'k1' } } as never,
      5000,
    )
    t.bus.deliver()
    const [emit] = t.posted('emit')
    expect(emit).toEqual({
      kind: 'emit',
      from: ME,
      to: 'holder-tab',
      id: expect.any(Number),
      event: 'message:send',
      args: [{ conversationId: 'c1', content: 'hi', clientId: 'k1' }],
      timeoutMs: 5000,
    })
    t.holder.send({ kind: 'ack', to: ME, id: emit!.id!, error: false, args: [{ ok: true, data: message(1) }] })
    await expect(result).resolves.toEqual({ kind: 'ok', data: message(1) })
    expect(t.timers.pending()).toBe(1) // only the heartbeat: the ack's timer was cleared
  })

  it('a plain ack emit gets cb(…args); a fire-and-forget emit posts id null', () => {
    const t = setup()
    t.attach()
    const acks: unknown[][] = []
    t.socket.emit('conversation:join', 'c1', (...args: unknown[]) => acks.push(args))
    t.socket.emit('typing', { conversationId: 'c1' })
    t.bus.deliver()
    const [join, typing] = t.posted('emit')
    expect(join).toMatchObject({ event: 'conversation:join', args: ['c1'], timeoutMs: null })
    expect(typing).toEqual({
      kind: 'emit',
      from: ME,
      to: 'holder-tab',
      id: null,
      event: 'typing',
      args: [{ conversationId: 'c1' }],
      timeoutMs: null,
    })
    t.holder.send({ kind: 'ack', to: ME, id: join!.id!, error: false, args: [{ ok: true, data: null }] })
    expect(acks).toEqual([[{ ok: true, data: null }]])
  })

  it('an ack with error (it timed out at the holder) gives an Error to both styles', () => {
    const t = setup()
    t.attach()
    const timed: unknown[][] = []
    const plain: unknown[][] = []
    t.socket.timeout(5000).emit('message:send', {}, (...args: unknown[]) => timed.push(args))
    t.socket.emit('conversation:join', 'c1', (...args: unknown[]) => plain.push(args))
    t.bus.deliver()
    for (const emit of t.posted('emit')) t.holder.send({ kind: 'ack', to: ME, id: emit.id!, error: true, args: [] })
    expect(timed).toEqual([[expect.any(Error)]])
    expect(plain).toEqual([[expect.any(Error)]])
  })

  it('acks for another tab, or from a tab it is not attached to, are not taken', () => {
    const t = setup()
    t.attach()
    const acks: unknown[][] = []
    t.socket.timeout(5000).emit('message:send', {}, (...args: unknown[]) => acks.push(args))
    t.bus.deliver()
    const id = t.posted('emit')[0]!.id!
    t.holder.send({ kind: 'ack', to: 'tab-other', id, error: false, args: ['for them'] })
    scriptedHolder(t.bus, 'impostor').send({ kind: 'ack', to: ME, id, error: false, args: ['forged'] })
    expect(acks).toEqual([])
    t.holder.send({ kind: 'ack', to: ME, id, error: false, args: ['mine'] })
    expect(acks).toEqual([[null, 'mine']])
  })

  it('no ack in time: the timeout fires through the injected timers, and a late ack is ignored', () => {
    const t = setup({ heartbeatMs: 60_000 })
    t.attach()
    const acks: unknown[][] = []
    t.socket.timeout(3000).emit('message:send', {}, (...args: unknown[]) => acks.push(args))
    t.bus.deliver()
    t.timers.advance(2999)
    expect(acks).toEqual([])
    t.timers.advance(1)
    expect(acks).toEqual([[expect.any(Error)]])
    expect((acks[0]![0] as Error).message).toBe('operation has timed out')
    t.holder.send({ kind: 'ack', to: ME, id: t.posted('emit')[0]!.id!, error: false, args: ['late'] })
    expect(acks).toHaveLength(1)
  })

  it('not connected: ack emits fail on the next tick of the injected timers, never hang; typing is dropped', () => {
    const t = setup()
    const timed: unknown[][] = []
    const plain: unknown[][] = []
    t.socket.timeout(5000).emit('message:send', {}, (...args: unknown[]) => timed.push(args))
    t.socket.emit('conversation:join', 'c1', (...args: unknown[]) => plain.push(args))
    t.socket.emit('typing', { conversationId: 'c1' })
    t.bus.deliver()
    expect(t.posted('emit')).toEqual([])
    expect(timed).toEqual([])
    t.timers.advance(0)
    expect(timed).toEqual([[expect.any(Error)]])
    expect(plain).toEqual([[expect.any(Error)]])
  })

  it('session:renew is answered here as a success and never reaches the holder', async () => {
    const t = setup()
    t.attach()
    const result = emitWithAck(
      t.socket as unknown as AppSocket,
      { event: 'session:renew', payload: { token: 'fresh' } } as never,
      5000,
    )
    const plain: unknown[][] = []
    t.socket.emit('session:renew', { token: 'fresh' }, (...args: unknown[]) => plain.push(args))
    t.socket.emit('session:renew', { token: 'fresh' })
    t.timers.advance(0)
    await expect(result).resolves.toEqual({ kind: 'ok', data: null })
    expect(plain).toEqual([[{ ok: true, data: null }]])
    t.bus.deliver()
    expect(t.posted('emit')).toEqual([])
  })
})

describe('live events', () => {
  it('events of this user from its holder are delivered like server events; another user’s never', () => {
    const t = setup()
    t.attach([], null)
    t.log.length = 0
    t.holder.send({ kind: 'event', userId: bob.id, raw: newMessage(5, 20) })
    scriptedHolder(t.bus, 'other-holder').send({ kind: 'event', userId: alice.id, raw: newMessage(6, 21) })
    // The marker: delivery has happened for this proxy, so what is missing above was refused, not late.
    t.holder.send({ kind: 'event', userId: alice.id, raw: newMessage(7, 22) })
    expect(t.log).toEqual([
      ['any', 'message:new', message(7), { offset: 22 }],
      ['message:new', message(7), { offset: 22 }],
    ])
  })

  it('events while not connected are not delivered', () => {
    const t = setup()
    t.socket.connect()
    t.holder.send({ kind: 'event', userId: alice.id, raw: newMessage(1, 8) })
    expect(t.log).toEqual([])
  })

  it('off and offAny stop delivery', () => {
    const t = setup()
    t.attach([], null)
    const heard: unknown[] = []
    const onMessage = (...args: unknown[]) => heard.push(['on', ...args])
    const onAnything = (...args: unknown[]) => heard.push(['any', ...args])
    t.socket.on('typing', onMessage)
    t.socket.onAny(onAnything)
    t.socket.off('typing', onMessage)
    t.socket.offAny(onAnything)
    t.holder.send({ kind: 'event', userId: alice.id, raw: { event: 'typing', args: [{ conversationId: 'c1' }] } })
    expect(heard).toEqual([])
    expect(t.log.at(-1)).toEqual(['typing', { conversationId: 'c1' }])
  })
})

describe('alive heartbeats and visibility', () => {
  it('while connected: alive every heartbeatMs with the visibility, at once on a change, none after a drop', () => {
    const t = setup({ heartbeatMs: 500 })
    t.attach()
    t.bus.deliver()
    expect(t.posted('alive')).toEqual([])
    t.timers.advance(499)
    t.bus.deliver()
    expect(t.posted('alive')).toEqual([])
    t.timers.advance(1)
    t.bus.deliver()
    expect(t.posted('alive')).toEqual([{ kind: 'alive', from: ME, visible: true }])
    t.timers.advance(500)
    t.bus.deliver()
    expect(t.posted('alive')).toHaveLength(2)

    t.visibility.set(false)
    t.bus.deliver()
    expect(t.posted('alive')).toHaveLength(3)
    expect(t.posted('alive').at(-1)).toEqual({ kind: 'alive', from: ME, visible: false })

    t.holder.send({ kind: 'down', reason: 'transport close' })
    t.timers.advance(5000)
    t.visibility.set(true)
    t.bus.deliver()
    expect(t.posted('alive')).toHaveLength(3)
    expect(t.timers.pending()).toBe(0)
  })

  it('a visibility change before it is connected posts nothing; the attach carries it', () => {
    const t = setup()
    t.visibility.set(false)
    t.socket.connect()
    t.bus.deliver()
    expect(t.posted('alive')).toEqual([])
    expect(t.posted('attach')[0]!.visible).toBe(false)
  })
})

describe('disconnect() and close()', () => {
  it('disconnect(): detach, pending acks fail, "io client disconnect", and no more re-attaching on up', () => {
    const t = setup()
    t.attach()
    const acks: unknown[][] = []
    t.socket.timeout(5000).emit('message:send', {}, (...args: unknown[]) => acks.push(args))
    t.log.length = 0
    t.socket.disconnect()
    t.bus.deliver()
    expect(t.posted('detach')).toEqual([{ kind: 'detach', from: ME }])
    expect(t.log).toEqual([['disconnect', 'io client disconnect']])
    expect(acks).toEqual([[expect.any(Error)]])
    expect(t.socket.connected).toBe(false)
    t.holder.send({ kind: 'up', userId: alice.id })
    t.bus.deliver()
    expect(t.posted('attach')).toHaveLength(1)
    expect(t.timers.pending()).toBe(0)
  })

  it('disconnect() between the holder’s `down` and the next attach still says detach (what it leaves unsent is the holder’s)', () => {
    const t = setup()
    t.attach()
    t.holder.send({ kind: 'down', reason: 'transport close' })
    expect(t.socket.connected).toBe(false)
    t.socket.disconnect()
    t.bus.deliver()
    expect(t.posted('detach')).toEqual([{ kind: 'detach', from: ME }])
  })

  it('disconnect() when never connected posts nothing', () => {
    const t = setup()
    t.socket.disconnect()
    t.bus.deliver()
    expect(t.holder.inbox).toEqual([])
    expect(t.log).toEqual([])
  })

  it('close(): detaches, then hears nothing more and leaves no timer behind', () => {
    const t = setup()
    t.attach()
    t.socket.timeout(5000).emit('message:send', {}, () => {})
    expect(t.bus.subscribers()).toBe(2)
    expect(t.visibility.subscribers()).toBe(1)
    t.tab.close()
    t.bus.deliver()
    expect(t.posted('detach')).toHaveLength(1)
    expect(t.timers.pending()).toBe(0)
    // Only the holder's own subscription is left on the bus.
    expect(t.bus.subscribers()).toBe(1)
    expect(t.visibility.subscribers()).toBe(0)
    t.log.length = 0
    t.socket.connect()
    t.holder.send({ kind: 'up', userId: alice.id })
    t.holder.send({ kind: 'attached', to: ME, socketId: 's', replay: [], sync: caughtUp, presence: null })
    t.holder.send({ kind: 'event', userId: alice.id, raw: newMessage(1, 8) })
    t.visibility.set(false)
    t.bus.deliver()
    expect(t.log).toEqual([])
    expect(t.posted('attach')).toHaveLength(1)
    expect(t.posted('alive')).toEqual([])
  })
})
