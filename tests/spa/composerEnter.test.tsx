// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { MAX_CONTENT_LENGTH } from '../../src/contract'
import { eventually } from '../unit/support/eventually'
import { pagePerTest, politeSaid, saidIn, threadWithFocusedComposer, type } from './support/page'

// Enter in the composer is the user asking to send: when nothing goes, they are told why, as for a blank draft.

const page = pagePerTest('#/messages/c1')

/** Enter pressed in `field`, once what it said has reached the live regions' observers (their records come after). */
async function pressEnter(field: HTMLElement) {
  act(() => {
    field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
  })
  await act(async () => {})
}

describe('Enter in the composer on a draft over the length limit', () => {
  test('says it is too long, once for each press, and sends nothing', async () => {
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const polite = politeSaid()
    const assertive = saidIn('[data-testid=announcer-assertive]')
    const tooLong = '4,001 / 4,000 characters: too long'
    type(composer, 'x'.repeat(MAX_CONTENT_LENGTH + 1))
    await eventually(() => expect(polite).toEqual([tooLong]))

    await pressEnter(composer)
    expect([...polite, ...assertive]).toEqual([tooLong, tooLong])
    await pressEnter(composer)
    expect([...polite, ...assertive]).toEqual([tooLong, tooLong, tooLong])
    expect(polite).toEqual([tooLong])

    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(composer.value).toHaveLength(MAX_CONTENT_LENGTH + 1)
    expect(document.activeElement).toBe(composer)
    store.dispose()
  })
})
