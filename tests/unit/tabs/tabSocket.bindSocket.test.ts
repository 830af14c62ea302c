import type { UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, it } from 'vitest'
import type { AppSocket } from '../../../src/realtime'
import {
  connected,
  disconnected,
  ephemeralEventActions,
  eventRejected,
  serverEventActions,
  syncCaughtUp,
} from '../../../src/realtime/actions'
import { bindSocket } from '../../../src/realtime/bindSocket'
import { createTabSocket } from '../../../src/realtime/tabs/tabSocket'
import { alice, bob, message } from '../support/fixtures'
import { fakeVisibility, manualTimers, memoryBus, scriptedHolder } from './support/tabBus'

/** The connection actions carry the moment they were made (`meta.at`): not what is compared here. */
function withoutTime(action: UnknownAction): UnknownAction {
  const { meta, ...rest } = action as UnknownAction & { meta?: Record<string, unknown> }
  if (!meta || !('at' in meta)) return action
  const { at: _at, ...other } = meta
  return Object.keys(other).length > 0 ? { ...rest, meta: other } : rest
}

describe('the proxy under the real bindSocket', () => {
  it('the holder’s answer and forwarded events become the same actions a real socket’s would', () => {
    const bus = memoryBus()
    const holder = scriptedHolder(bus)
    const tab = createTabSocket({
      tabId: 'tab-2',
      userId: alice.id,
      channel: bus.channel(),
      resume: () => ({ offset: 4, epoch: 'e1' }),
      visibility: fakeVisibility(),
      timers: manualTimers(),
    })
    const actions: UnknownAction[] = []
    const teardown = bindSocket(tab.socket as unknown as AppSocket, (action) => {
      actions.push(action)
      return action
    })

    tab.socket.connect()
    bus.deliver()
    holder.send({
      kind: 'attached',
      to: 'tab-2',
      socketId: 'sock-1',
      replay: [{ event: 'message:new', args: [message(5), { offset: 5 }] }],
      sync: { event: 'sync:caughtUp', args: [{ offset: 5, epoch: 'e1' }] },
      presence: null,
    })
    holder.send({ kind: 'event', userId: alice.id, raw: { event: 'message:new', args: [message(6), { offset: 6 }] } })
    holder.send({
      kind: 'event',
      userId: alice.id,
      raw: { event: 'typing', args: [{ conversationId: 'c1', userId: bob.id }] },
    })
    holder.send({ kind: 'event', userId: alice.id, raw: { event: 'no:such:event', args: [] } })
    holder.send({ kind: 'down', reason: 'ping timeout' })

    expect(actions.map(withoutTime)).toEqual(
      [
        connected({ socketId: 'sock-1', recovered: false }),
        serverEventActions['message:new'](message(5), 5),
        syncCaughtUp({ offset: 5, epoch: 'e1', recovered: false }),
        serverEventActions['message:new'](message(6), 6),
        ephemeralEventActions.typing({ conversationId: 'c1', userId: bob.id }),
        eventRejected({ event: 'no:such:event', issues: [{ path: '', message: 'unknown event' }] }),
        disconnected({ reason: 'transport close' }),
      ].map(withoutTime),
    )

    teardown()
    tab.socket.connect()
    holder.send({ kind: 'up', userId: alice.id })
    holder.send({
      kind: 'attached',
      to: 'tab-2',
      socketId: 'sock-2',
      replay: [],
      sync: { event: 'sync:caughtUp', args: [{ offset: 6, epoch: 'e1' }] },
      presence: null,
    })
    expect(tab.socket.connected).toBe(true)
    expect(actions).toHaveLength(7)
    tab.close()
  })
})
