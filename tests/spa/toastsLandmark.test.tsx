// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { bob, lesson } from '../unit/support/fixtures'
import { messagesPageWithToasts, pagePerTest } from './support/page'

// The toast list is a region landmark ("Notifications"), and was one with no toast in it too: a screen reader's list
// of landmarks, or its jump to the next one, always offered a "Notifications" region that held nothing. It is a
// landmark only while it holds a toast (the news itself is said by the announcer, so nothing needs it there before).

const page = pagePerTest()

/** The names of the page's region landmarks: `<section>`s and `role=region`s that have a name. */
const regions = () =>
  [...page.container.querySelectorAll('section, [role=region]')]
    .filter((el) => el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby'))
    .map(
      (el) =>
        el.getAttribute('aria-label') ?? document.getElementById(el.getAttribute('aria-labelledby')!)?.textContent,
    )

describe('the Notifications landmark', () => {
  test('is there only while a toast is', async () => {
    const { store } = await messagesPageWithToasts(page, bob)
    expect(regions()).not.toContain('Notifications')
    act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l1', { subject: 'Algebra' }))))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(1))
    expect(regions()).toContain('Notifications')
    act(() => page.container.querySelector<HTMLButtonElement>('.toast-close')!.click())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(0))
    expect(regions()).not.toContain('Notifications')
    store.dispose()
  })
})
