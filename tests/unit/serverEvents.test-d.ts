import { describe, expectTypeOf, test } from 'vitest'
import {
  messageSchema,
  serverEvents,
  type ServerEventName,
  type ServerEventSpec,
  type ServerEventTable,
} from '../../src/contract'
import { MAX_CONTENT_LENGTH } from '../../src/contract'
import { TOAST_NEWS } from '../../src/features/notifications/toaster'

describe('serverEvents: one typed entry per server event', () => {
  test('its keys are exactly the event map', () => {
    expectTypeOf<keyof typeof serverEvents>().toEqualTypeOf<ServerEventName>()
  })

  test('a table without an event does not compile', () => {
    const { 'lesson:created': _omitted, ...rest } = serverEvents
    // @ts-expect-error Property 'lesson:created' is missing
    const incomplete: ServerEventTable = rest
    expectTypeOf(incomplete).not.toBeAny()
  })

  test('a text limit names a string field of that payload', () => {
    const ok: ServerEventSpec<'message:new'> = {
      schema: messageSchema,
      textLimits: { content: MAX_CONTENT_LENGTH },
    }
    // @ts-expect-error 'seq' is a number, not a text field
    const wrong: ServerEventSpec<'message:new'> = { schema: messageSchema, textLimits: { seq: 5 } }
    expectTypeOf(ok).toEqualTypeOf(wrong)
  })

  test("an entry's schema parses to its event's payload", () => {
    // @ts-expect-error a message schema for a lesson event
    const mismatched: ServerEventSpec<'lesson:created'> = { schema: messageSchema, textLimits: {} }
    expectTypeOf(mismatched).not.toBeAny()
  })

  test('the toasts table says for every event whether it makes a toast', () => {
    const { 'conversation:seen': _omitted, ...rest } = TOAST_NEWS
    // @ts-expect-error Property 'conversation:seen' is missing
    const incomplete: typeof TOAST_NEWS = rest
    expectTypeOf(incomplete).not.toBeAny()
  })
})
