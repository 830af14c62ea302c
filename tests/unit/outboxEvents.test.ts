import { createAction, type UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import * as actions from '../../src/realtime/actions'
import type { OutboxEventBody } from '../../src/realtime/outboxMachine'
import { GATHER, outboxEventsOf, outboxEventsOfWaitEnd } from '../../src/realtime/outboxEvents'
import { initialSocketState, type SocketState } from '../../src/realtime/socketSlice'
import { message, messagesFetched, pendingMessage } from './support/fixtures'

const loggedOut = createAction<void>('auth/loggedOut')
const options = { loggedOut, selectUserId: (s: { auth: { userId: string } }) => s.auth.userId }

const k1 = pendingMessage('k1', {
  content: 'hello',
  status: 'failed',
  attempts: 1,
  error: { code: 'FORBIDDEN', message: 'no' },
})
const prev = (over: Partial<SocketState['connection']> = {}) => ({
  auth: { userId: 'u1' },
  socket: { ...initialSocketState, outbox: [k1], connection: { ...initialSocketState.connection, ...over } },
})
const stored = message(3, { clientId: 'k1', senderId: 'u1' })
const thread = [message(1), message(2)]
const threadFetched = messagesFetched('c1', thread)

describe('outboxEventsOf: an action → the outbox machine’s events, in order', () => {
  const send = actions.sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k9' })
  const rows: [string, UnknownAction, ReturnType<typeof prev>, OutboxEventBody[]][] = [
    [
      'sendMessage: restore first (older stored sends go before), the holder gathers the other tabs’ sends (written before it), then queued',
      send,
      prev(),
      [{ type: 'restore' }, GATHER, { type: 'queued', clientId: 'k9', problem: null }],
    ],
    [
      'sendMessage the browser refuses: queued with its problem',
      actions.sendMessage({ conversationId: 'c1', content: '', clientId: 'k8' }),
      prev(),
      [{ type: 'restore' }, GATHER, { type: 'queued', clientId: 'k8', problem: expect.any(String) }],
    ],
    ['outboxRestored', actions.outboxRestored({ entries: [k1] }), prev(), [{ type: 'restored', entries: [k1] }]],
    [
      'sendConfirmed: the holder gathers the other tabs’ sends before the conversation’s next goes',
      actions.sendConfirmed({ message: stored }),
      prev(),
      [GATHER, { type: 'confirmed', conversationId: 'c1', clientId: stored.clientId }],
    ],
    [
      'message:sent on its own confirms too (ahead of its ack, it ends the try in flight)',
      actions.serverEventActions['message:sent'](stored),
      prev(),
      [GATHER, { type: 'confirmed', conversationId: 'c1', clientId: stored.clientId }],
    ],
    [
      'sendFailed: the holder gathers too',
      actions.sendFailed({ clientId: 'k1', error: k1.error! }),
      prev(),
      [GATHER, { type: 'failed', clientId: 'k1' }],
    ],
    ['retryMessage', actions.retryMessage({ clientId: 'k1' }), prev(), [{ type: 'retried', clientId: 'k1' }]],
    [
      'discardMessage: the entry as it was before the reducer removed it',
      actions.discardMessage({ clientId: 'k1' }),
      prev(),
      [{ type: 'discarded', entry: k1 }],
    ],
    [
      'discardMessage of an unknown send',
      actions.discardMessage({ clientId: 'zz' }),
      prev(),
      [{ type: 'discarded', entry: null }],
    ],
    [
      'connected: the lock holder gathers the other tabs’ sends, then everything goes again but a wait the server asked for (the server answered: an outage is over)',
      actions.connected({ socketId: 's1', recovered: false }),
      prev(),
      [GATHER, { type: 'drain', onlyNetworkWaits: true, answered: true }],
    ],
    [
      'retryNow: the holder gathers, then only network waits go',
      actions.retryNow({ reason: 'online' }),
      prev(),
      [GATHER, { type: 'drain', onlyNetworkWaits: true }],
    ],
    [
      'retryNow because the API answered over HTTP: the server answered, an outage is over',
      actions.retryNow({ reason: 'reachable' }),
      prev(),
      [GATHER, { type: 'drain', onlyNetworkWaits: true, answered: true }],
    ],
    ['connect', actions.connect(), prev(), [{ type: 'restore' }, GATHER, { type: 'drain', onlyNetworkWaits: true }]],
    [
      'sessionStarted',
      actions.sessionStarted(),
      prev(),
      [{ type: 'reset' }, { type: 'restore' }, { type: 'drain', onlyNetworkWaits: false }],
    ],
    ['sessionEnded', actions.sessionEnded(), prev(), [{ type: 'reset' }]],
    ['shutdown', actions.shutdown(), prev(), [{ type: 'reset' }]],
    [
      'sessionExpired',
      actions.sessionExpired({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }),
      prev(),
      [{ type: 'sessionExpired' }],
    ],
    [
      'the app’s logout, with the outbox it leaves',
      loggedOut(),
      prev(),
      [{ type: 'loggedOut', userId: 'u1', keepOutbox: false, outbox: [k1] }],
    ],
    [
      'the app’s logout keeping the outbox',
      { ...loggedOut(), meta: { keepOutbox: true } },
      prev(),
      [{ type: 'loggedOut', userId: 'u1', keepOutbox: true, outbox: [k1] }],
    ],
    [
      'a follower becoming the leader adopts',
      actions.roleChanged({ role: 'leader' }),
      prev({ role: 'follower' }),
      [{ type: 'adopt', holdingOnly: false }],
    ],
    ['a solo tab becoming the leader does not', actions.roleChanged({ role: 'leader' }), prev({ role: 'solo' }), []],
    ['a leader becoming a follower does not', actions.roleChanged({ role: 'follower' }), prev({ role: 'leader' }), []],
    [
      'a follower gone: the leader adopts',
      actions.followerGone(),
      prev({ role: 'leader' }),
      [{ type: 'adopt', holdingOnly: false }],
    ],
    ['a fetched thread', threadFetched, prev(), [{ type: 'threadFetched', conversationId: 'c1', thread }]],
    ['any other action', { type: 'other/thing' }, prev(), []],
  ]
  test.each(rows)('%s', (_name, action, state, events) => {
    expect(outboxEventsOf(action, state, options)).toEqual(events)
  })
})

test('a wait that ends: the lock holder gathers the other tabs’ sends, then the conversation goes again', () => {
  expect(outboxEventsOfWaitEnd('c1')).toEqual([GATHER, { type: 'timerFired', conversationId: 'c1' }])
})
