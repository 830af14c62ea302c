import type * as v from 'valibot'
import { describe, expectTypeOf, test } from 'vitest'
import type {
  Ack,
  Check,
  Infer,
  ClientEventAckData,
  ClientEventName,
  ClientEventPayload,
  ContactRequest,
  Lesson,
  Message,
  ServerEventName,
  ServerEventPayload,
} from '../../src/contract'
import type { serverEventSchemas, SERVER_EVENTS } from '../../src/contract'
import type { clientEventSchemas } from '../../src/contract/requests'
import { messageSchema, number, object, string } from '../../src/contract'

describe('the event maps and the schemas agree', () => {
  test('one server schema per server event, no more', () => {
    expectTypeOf<keyof typeof serverEventSchemas>().toEqualTypeOf<ServerEventName>()
    expectTypeOf<(typeof SERVER_EVENTS)[number]>().toEqualTypeOf<ServerEventName>()
  })

  test('each server schema parses to exactly its event payload', () => {
    type Parsed<E extends ServerEventName> = Infer<(typeof serverEventSchemas)[E]>
    expectTypeOf<Parsed<'message:new'>>().toEqualTypeOf<ServerEventPayload<'message:new'>>()
    expectTypeOf<Parsed<'message:sent'>>().toEqualTypeOf<ServerEventPayload<'message:sent'>>()
    expectTypeOf<Parsed<'conversation:read'>>().toEqualTypeOf<ServerEventPayload<'conversation:read'>>()
    expectTypeOf<Parsed<'lesson:created'>>().toEqualTypeOf<ServerEventPayload<'lesson:created'>>()
    expectTypeOf<Parsed<'lesson:statusUpdated'>>().toEqualTypeOf<ServerEventPayload<'lesson:statusUpdated'>>()
    expectTypeOf<Parsed<'contactRequest:created'>>().toEqualTypeOf<ServerEventPayload<'contactRequest:created'>>()
    expectTypeOf<Parsed<'contactRequest:statusUpdated'>>().toEqualTypeOf<
      ServerEventPayload<'contactRequest:statusUpdated'>
    >()
  })

  test("a check's shape must be its type's fields, each with a check of that field's type", () => {
    expectTypeOf(messageSchema).toEqualTypeOf<Check<Message>>()
    // @ts-expect-error `seq` is a number, not a string
    object<Pick<Message, 'seq'>>({ seq: string() })
    // @ts-expect-error `content` is missing
    object<Pick<Message, 'seq' | 'content'>>({ seq: number() })
  })

  test('the payloads are the contract entities', () => {
    expectTypeOf<ServerEventPayload<'message:new'>>().toEqualTypeOf<Message>()
    expectTypeOf<ServerEventPayload<'lesson:statusUpdated'>>().toEqualTypeOf<Lesson>()
    expectTypeOf<ServerEventPayload<'contactRequest:created'>>().toEqualTypeOf<ContactRequest>()
  })

  test('one client schema per client event, parsing to its first argument', () => {
    expectTypeOf<keyof typeof clientEventSchemas>().toEqualTypeOf<ClientEventName>()
    type Parsed<E extends ClientEventName> = v.InferOutput<(typeof clientEventSchemas)[E]>
    expectTypeOf<Parsed<'conversation:join'>>().toEqualTypeOf<ClientEventPayload<'conversation:join'>>()
    expectTypeOf<Parsed<'conversation:leave'>>().toEqualTypeOf<ClientEventPayload<'conversation:leave'>>()
    expectTypeOf<Parsed<'message:send'>>().toEqualTypeOf<ClientEventPayload<'message:send'>>()
  })

  test('acks carry the contract data', () => {
    expectTypeOf<ClientEventAckData<'message:send'>>().toEqualTypeOf<Message>()
    expectTypeOf<ClientEventAckData<'conversation:join'>>().toEqualTypeOf<null>()
    expectTypeOf<Ack<null>>().toMatchTypeOf<{ ok: boolean }>()
  })
})
