import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { connect, internalError, joinConversation, sendMessage } from '../../src/realtime'
import { T0 } from './support/fixtures'
import { mockStore } from './support/mockStore'

// The action creators type every command, but Redux DevTools' "Dispatch" and plain JavaScript callers can send any
// object: one the layer cannot use is refused with one serializable report, the store keeps nothing of it and
// dispatch does not throw (the README's "bad input gets a clear error, and the store keeps working").

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
  vi.spyOn(console, 'error').mockImplementation(() => {})
})
afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

function connectedStore() {
  const setup = mockStore()
  setup.dispatch(connect())
  setup.sockets.last.serverConnect()
  setup.sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
  setup.store.clearActions()
  return setup
}

const createdAt = { createdAt: T0 }
const send = { conversationId: 'c1', content: 'Hi', clientId: 'k1' }

const malformed: [name: string, action: Record<string, unknown>, problem: string][] = [
  ['a join without a payload', { type: 'socket/joinConversation' }, 'payload: must be an object'],
  [
    'a join with a numeric id',
    { type: 'socket/joinConversation', payload: { conversationId: 42 } },
    'conversationId: must be a string',
  ],
  [
    'a join with an empty id',
    { type: 'socket/joinConversation', payload: { conversationId: '' } },
    'conversationId: must not be empty',
  ],
  ['a leave without a payload', { type: 'socket/leaveConversation' }, 'payload: must be an object'],
  [
    'a leave with an object as id',
    { type: 'socket/leaveConversation', payload: { conversationId: {} } },
    'conversationId: must be a string',
  ],
  ['typing without a payload', { type: 'socket/sendTyping', payload: null }, 'payload: must be an object'],
  [
    'typing with a numeric id',
    { type: 'socket/sendTyping', payload: { conversationId: 3 } },
    'conversationId: must be a string',
  ],
  ['a send without a payload', { type: 'socket/sendMessage', meta: createdAt }, 'payload: must be an object'],
  [
    'a send without meta (not made by sendMessage())',
    { type: 'socket/sendMessage', payload: send },
    'meta.createdAt: must be a string',
  ],
  [
    'a send without a clientId',
    { type: 'socket/sendMessage', payload: { ...send, clientId: undefined }, meta: createdAt },
    'clientId: must be a string',
  ],
  [
    'a send with a numeric conversationId',
    { type: 'socket/sendMessage', payload: { ...send, conversationId: 1 }, meta: createdAt },
    'conversationId: must be a string',
  ],
  [
    'a send with a numeric content',
    { type: 'socket/sendMessage', payload: { ...send, content: 5 }, meta: createdAt },
    'content: must be a string',
  ],
  ['a retry without a payload', { type: 'socket/retryMessage' }, 'payload: must be an object'],
  ['a discard without a payload', { type: 'socket/discardMessage' }, 'payload: must be an object'],
  [
    'a discard with a numeric clientId',
    { type: 'socket/discardMessage', payload: { clientId: 5 } },
    'clientId: must be a string',
  ],
]

describe('a command with a payload the layer cannot use', () => {
  test.each(malformed)(
    '%s: refused with socket/internalError, nothing kept or emitted, the store still works',
    (_name, action, problem) => {
      const { dispatch, store, sockets } = connectedStore()
      const socket = sockets.last
      const emittedBefore = socket.emitted.length

      expect(() => dispatch(action)).not.toThrow()
      expect(store.getActions()).toEqual([internalError({ where: action.type as string, message: problem })])
      expect(store.getState().socket.rooms).toEqual([])
      expect(store.getState().socket.outbox).toEqual([])
      expect(socket.emitted.slice(emittedBefore)).toEqual([])

      dispatch(joinConversation({ conversationId: 'c1' }))
      expect(store.getState().socket.rooms).toEqual(['c1'])
      expect(socket.emitted.at(-1)?.event).toBe('conversation:join')
      expect(socket.emitted.at(-1)?.args[0]).toBe('c1')
    },
  )

  test('a join refused so is not joined again at the next reconnect', () => {
    const { dispatch, sockets } = connectedStore()
    dispatch({ type: 'socket/joinConversation', payload: { conversationId: 42 } })
    dispatch(joinConversation({ conversationId: 'c1' }))
    sockets.last.serverDrop()
    vi.advanceTimersByTime(60_000)
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    // The same socket, joined once at the join and once again after the reconnect: 42 neither time.
    expect(sockets.last.emitted.filter((p) => p.event === 'conversation:join').map((p) => p.args[0])).toEqual([
      'c1',
      'c1',
    ])
  })

  test('a well-formed send whose values the server would refuse still shows as failed (its words, Retry, Discard)', () => {
    const { dispatch, store } = connectedStore()
    dispatch(sendMessage({ conversationId: 'c1', content: '', clientId: 'k1' }))
    expect(store.getState().socket.outbox).toMatchObject([
      { clientId: 'k1', status: 'failed', error: { code: 'INVALID', message: 'content: must not be empty' } },
    ])
  })
})
