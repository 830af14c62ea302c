import { defineMessage, FormattedMessage, type IntlShape, type MessageDescriptor } from 'react-intl'
import { describe, expectTypeOf, test } from 'vitest'
import type { MessageId } from '../../src/i18n'

// Never called: the checks are what tsc says about these lines.
declare const intl: IntlShape
declare const computed: string

describe("react-intl's message ids are the catalogue's keys (src/i18n/catalogues.ts registers them)", () => {
  test('a descriptor takes a MessageId, not any string', () => {
    expectTypeOf<NonNullable<MessageDescriptor['id']>>().toEqualTypeOf<MessageId>()
  })

  test('<FormattedMessage id> takes a key and refuses an unknown or unchecked one', () => {
    ;<FormattedMessage id="lessons.booked" values={{ subject: 'Algebra' }} />
    // @ts-expect-error not a key of the catalogue
    ;<FormattedMessage id="no.such.id" />
    // @ts-expect-error a string built at run time could name anything
    ;<FormattedMessage id={computed} />
  })

  test('intl.formatMessage, intl.$t and defineMessage check their id the same way', () => {
    intl.formatMessage({ id: 'count.unreadMessages' }, { count: 3 })
    intl.$t({ id: 'page.tryAgain' })
    defineMessage({ id: 'toasts.dismiss' })
    // @ts-expect-error not a key of the catalogue
    intl.formatMessage({ id: 'no.such.id' })
    // @ts-expect-error not a key of the catalogue
    intl.$t({ id: 'no.such.id' })
    // @ts-expect-error not a key of the catalogue
    defineMessage({ id: 'no.such.id' })
  })
})
