import type { UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import {
  connect,
  connected,
  ephemeralEventActions,
  eventRejected,
  initialPresenceState,
  initialSocketState,
  joinConversation,
  presenceReducer,
  presenceSlice,
  sendMessage,
  sendRejected,
  serverEventActions,
  sessionEnded,
  socketReducer,
  socketSlice,
  syncCaughtUp,
  typingExpired,
  type PresenceState,
  type SocketState,
} from '../../src/realtime'
import type { ServerEventName } from '../../src/contract'
import { alice, bob, contactRequest, lesson, message } from './support/fixtures'

// `socketReducer` and `presenceReducer` answer their busiest cases (a server event) without immer. These tables hold
// them to the slices' own reducers, action by action: the same state (deep), the same reference exactly when the
// slice keeps it (nothing changed: Redux's subscribers still see every change), frozen where the slice's is.

/** A state the way a store holds it: built by the slice's own reducer, so frozen as immer leaves it. */
function socketState(...actions: UnknownAction[]): SocketState {
  return actions.reduce<SocketState>((state, action) => socketSlice.reducer(state, action), initialSocketState)
}

const connectedAt = (offset: number | null): SocketState =>
  socketState(
    connect(),
    connected({ socketId: 's1', recovered: false }),
    joinConversation({ conversationId: 'c1' }),
    sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }),
    ...(offset === null ? [] : [syncCaughtUp({ offset, epoch: 'e1', recovered: false })]),
  )

const payloads: { [E in ServerEventName]: unknown } = {
  'message:new': message(7),
  'message:sent': message(8, { senderId: alice.id, clientId: 'k1', content: 'hi' }),
  'conversation:read': { conversationId: 'c1', unreadCount: 0 },
  'conversation:seen': { conversationId: 'c1', userId: bob.id, seq: 7 },
  'lesson:created': lesson('l1'),
  'lesson:statusUpdated': lesson('l1', { status: 'confirmed' }),
  'contactRequest:created': contactRequest('r1'),
  'contactRequest:statusUpdated': contactRequest('r1', { status: 'accepted' }),
}

const serverEvent = (event: ServerEventName, offset?: number): UnknownAction =>
  (serverEventActions[event] as (payload: unknown, offset?: number) => UnknownAction)(payloads[event], offset)

/** Every server event without an offset, below, at and above the applied one (5), plus the slice's other actions. */
const actions: Array<[string, UnknownAction]> = [
  ...(Object.keys(payloads) as ServerEventName[]).flatMap(
    (event): Array<[string, UnknownAction]> => [
      [`${event}, no offset`, serverEvent(event)],
      [`${event}, offset 3`, serverEvent(event, 3)],
      [`${event}, offset 5`, serverEvent(event, 5)],
      [`${event}, offset 6`, serverEvent(event, 6)],
    ],
  ),
  ['eventRejected, no offset', eventRejected({ event: 'message:new', issues: [] })],
  ['eventRejected, offset 5', eventRejected({ event: 'message:new', issues: [] }, 5)],
  ['eventRejected, offset 9', eventRejected({ event: 'message:new', issues: [] }, 9)],
  ['a malformed offset', { ...serverEvent('message:new'), meta: { offset: '9' } }],
  ['connect', connect()],
  ['sendMessage', sendMessage({ conversationId: 'c1', content: 'x', clientId: 'k2' })],
  ['sendMessage of a clientId queued already', sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' })],
  ['syncCaughtUp', syncCaughtUp({ offset: 4, epoch: 'e1', recovered: true })],
  ['sessionEnded', sessionEnded()],
  ['an action of no one', { type: 'other/thing' }],
]

describe('socketReducer is socketSlice.reducer, faster', () => {
  const connectedNoOffset = connectedAt(null)
  const connectedAtFive = connectedAt(5)
  const sendRefused = socketState(
    sendRejected({ clientId: 'k9', conversationId: 'c1', code: 'OUTBOX_FULL', message: 'full' }),
    sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }),
    sendRejected({ clientId: 'k9', conversationId: 'c1', code: 'OUTBOX_FULL', message: 'full' }),
  )
  // Each reducer gets its own copy of a state nothing froze: immer freezes what it shares with its base in place.
  const states: Array<[string, () => SocketState]> = [
    ['the initial state', () => initialSocketState],
    ['connected, no offset yet', () => connectedNoOffset],
    ['connected at offset 5', () => connectedAtFive],
    // Preloaded (`configureStore`'s `preloadedState`): nothing has reduced it, so nothing froze it.
    ['connected at offset 5, never reduced', () => structuredClone(connectedAtFive)],
    ['a send refused (outbox full)', () => sendRefused],
  ]
  for (const [stateName, make] of states) {
    test.each(actions)(`${stateName}: %s`, (_name, action) => {
      const slowBase = make()
      const slow = socketSlice.reducer(slowBase, action)
      const state = make()
      const fast = socketReducer(state, action)
      expect(fast).toEqual(slow)
      expect(fast === state).toBe(slow === slowBase)
      expect(Object.isFrozen(fast)).toBe(Object.isFrozen(slow))
      expect(Object.isFrozen(fast.connection)).toBe(Object.isFrozen(slow.connection))
      expect(Object.isFrozen(fast.outbox)).toBe(Object.isFrozen(slow.outbox))
      expect(fast.outbox.map(Object.isFrozen)).toEqual(slow.outbox.map(Object.isFrozen))
      // What the slice did not touch is shared, as immer shares it.
      expect(fast.outbox === state.outbox).toBe(slow.outbox === slowBase.outbox)
      expect(fast.rooms === state.rooms).toBe(slow.rooms === slowBase.rooms)
    })
  }

  test('a store starting from nothing gets the slice initial state', () => {
    expect(socketReducer(undefined, { type: '@@INIT' })).toEqual(socketSlice.reducer(undefined, { type: '@@INIT' }))
  })

  test('an event above the applied offset is a new state with only the offset moved (subscribers are told)', () => {
    const state = connectedAt(5)
    const next = socketReducer(state, serverEvent('message:new', 6))
    expect(next).not.toBe(state)
    expect(next.connection).toEqual({ ...state.connection, offset: 6 })
  })
})

describe('presenceReducer is presenceSlice.reducer, faster', () => {
  const typing = (...entries: Array<[string, string[]]>): PresenceState =>
    entries.reduce<PresenceState>(
      (state, [conversationId, userIds]) =>
        userIds.reduce(
          (s, userId) => presenceSlice.reducer(s, ephemeralEventActions.typing({ conversationId, userId })),
          state,
        ),
      initialPresenceState,
    )
  const states: Array<[string, PresenceState]> = [
    ['nobody typing', initialPresenceState],
    ['the sender typing there', typing(['c1', [bob.id]])],
    ['the sender and another typing there', typing(['c1', ['u-carol', bob.id]])],
    ['someone else typing there', typing(['c1', ['u-carol']])],
    ['the sender typing elsewhere', typing(['c2', [bob.id]])],
    // Empty again after notices ended (the fast path asks whether anyone types at all before it looks by id).
    [
      'nobody typing any more',
      presenceSlice.reducer(typing(['c1', [bob.id]]), typingExpired({ conversationId: 'c1', userId: bob.id })),
    ],
  ]
  const presenceActions: Array<[string, UnknownAction]> = [
    ['message:new from the sender in c1', serverEvent('message:new')],
    ['message:new from the sender in c2', serverEventActions['message:new'](message(3, { conversationId: 'c2' }))],
    ['message:new with an offset', serverEvent('message:new', 6)],
    ['message:sent', serverEvent('message:sent')],
    ['typing', ephemeralEventActions.typing({ conversationId: 'c1', userId: 'u-dan' })],
    ['typingExpired', typingExpired({ conversationId: 'c1', userId: bob.id })],
    ['sessionEnded', sessionEnded()],
  ]
  for (const [stateName, state] of states) {
    test.each(presenceActions)(`${stateName}: %s`, (_name, action) => {
      const slow = presenceSlice.reducer(state, action)
      const fast = presenceReducer(state, action)
      expect(fast).toEqual(slow)
      expect(fast === state).toBe(slow === state)
      expect(Object.isFrozen(fast)).toBe(Object.isFrozen(slow))
    })
  }

  test("the sender's message ends their notice, and only theirs (a new state: subscribers are told)", () => {
    const state = typing(['c1', ['u-carol', bob.id]])
    const next = presenceReducer(state, serverEvent('message:new'))
    expect(next).not.toBe(state)
    expect(next.typing).toEqual({ c1: ['u-carol'] })
  })

  test("someone else's message leaves the notices as they are, the same state", () => {
    const state = typing(['c1', ['u-carol']])
    expect(presenceSlice.reducer(state, serverEvent('message:new'))).toBe(state)
  })
})
