import { io, type Socket } from 'socket.io-client'
import { describe, expectTypeOf, test } from 'vitest'
import type { MakeStoreOptions } from '../../src/app/store'
import type { ServerEventName, ServerEventPayload } from '../../src/contract'
import type { AppDispatch, RootState } from '../../src/app/store'
import {
  cacheWorkTable,
  serverEventActions,
  type CacheView,
  type CacheWork,
  type Connection,
  type Emit,
  type PendingMessage,
  type SocketHolder,
  type CreateSocket,
  selectConnection,
  selectPendingMessages,
  socketHolderRequested,
  sendMessage,
  disconnected,
} from '../../src/realtime'

describe('the realtime layer is keyed by the contract', () => {
  test('one action creator per server event, typed socket/<event> with its payload', () => {
    expectTypeOf<keyof typeof serverEventActions>().toEqualTypeOf<ServerEventName>()
    expectTypeOf(serverEventActions['message:new']).parameter(0).toEqualTypeOf<ServerEventPayload<'message:new'>>()
    expectTypeOf(serverEventActions['lesson:created'].type).toEqualTypeOf<'socket/lesson:created'>()
    expectTypeOf<ReturnType<(typeof serverEventActions)['conversation:read']>['payload']>().toEqualTypeOf<
      ServerEventPayload<'conversation:read'>
    >()
  })

  test('the cache table has one entry per server event, taking its payload', () => {
    expectTypeOf<keyof typeof cacheWorkTable>().toEqualTypeOf<ServerEventName>()
    expectTypeOf(cacheWorkTable['lesson:statusUpdated']).toEqualTypeOf<
      (payload: ServerEventPayload<'lesson:statusUpdated'>, view: CacheView) => CacheWork
    >()
  })

  test('emits are the client events with their first argument', () => {
    expectTypeOf<Extract<Emit, { event: 'message:send' }>['payload']>().toEqualTypeOf<{
      conversationId: string
      content: string
      clientId: string
    }>()
    expectTypeOf<Emit['event']>().toEqualTypeOf<
      'conversation:join' | 'conversation:leave' | 'message:send' | 'session:renew' | 'typing'
    >()
  })

  test('sendMessage: clientId optional in, always out', () => {
    expectTypeOf(sendMessage)
      .parameter(0)
      .toEqualTypeOf<{ conversationId: string; content: string; clientId?: string }>()
    expectTypeOf(sendMessage({ conversationId: 'c', content: 'x' }).payload.clientId).toEqualTypeOf<string>()
  })

  test('the store: state keys, selectors, and the dispatch extension', () => {
    expectTypeOf<keyof RootState>().toEqualTypeOf<'auth' | 'socket' | 'presence' | 'api'>()
    expectTypeOf(selectConnection).returns.toEqualTypeOf<Connection>()
    expectTypeOf(selectPendingMessages).returns.toEqualTypeOf<PendingMessage[]>()
    expectTypeOf<ReturnType<AppDispatch>>().not.toBeAny()
    const dispatch = null as unknown as AppDispatch
    expectTypeOf(dispatch(socketHolderRequested())).toEqualTypeOf<SocketHolder>()
  })

  test("socket/disconnected's reason is one of Socket.IO's, not any string", () => {
    expectTypeOf(disconnected).parameter(0).toEqualTypeOf<{ reason: Socket.DisconnectReason }>()
    // @ts-expect-error a reason Socket.IO never gives
    disconnected({ reason: 'went away' })
  })

  test("socket.io-client's io is a CreateSocket as it is", () => {
    expectTypeOf(io).toExtend<CreateSocket>()
    expectTypeOf<{ createSocket: typeof io }>().toExtend<MakeStoreOptions>()
  })
})
