import { describe, expectTypeOf, test } from 'vitest'
import type { ClientEventName, Message } from '../../src/contract'
import type { ClientEventHandler, ClientEventHandlers } from '../../server/realtime'

describe("the server's socket handlers are keyed by ClientToServerEvents", () => {
  test('one handler per client event', () => {
    expectTypeOf<keyof ClientEventHandlers>().toEqualTypeOf<ClientEventName>()
  })

  test('a missing handler does not compile', () => {
    const renew: ClientEventHandler<'session:renew'> = async () => null
    // @ts-expect-error 'message:send' and the others are missing
    const partial: ClientEventHandlers = { 'session:renew': renew }
    expectTypeOf(partial).not.toBeAny()
  })

  test("each resolves to its ack's data", () => {
    expectTypeOf<ReturnType<ClientEventHandler<'message:send'>>>().toEqualTypeOf<Promise<Message>>()
    expectTypeOf<ReturnType<ClientEventHandler<'conversation:join'>>>().toEqualTypeOf<Promise<null>>()
  })
})
