// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { bob, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { withLayout } from './support/layout'
import { bobsThreadApi, connectedApp, pageEndingAt, pagePerTest } from './support/page'

// A reader scrolled up to older messages stays where they are when a new one comes (the thread does not pull them
// down). A screen reader says it; a sighted reader saw nothing of it, and went on reading with no idea that an answer
// waited below. As chat apps do, a button says so, and takes them to it.

const page = pagePerTest('#/messages/c1')
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

/** Alice's thread with Bob (his messages 1–20, 100 px each in a 500 px view), the reader scrolled up to the top. */
async function readingUp() {
  const { store, sockets } = connectedApp(
    page,
    bobsThreadApi(() => pageEndingAt(20)),
  )
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(20))
  const list = page.container.querySelector<HTMLElement>('[data-testid=message-list]')!
  withLayout(list, () => 100 * list.querySelectorAll('[data-testid=message]').length)
  scrollTo(list, 0)
  let offset = 2
  const fromBob = (seq: number) =>
    act(() => sockets.last.serverEmit('message:new', message(seq, { senderId: bob.id }), { offset: offset++ }))
  return { store, list, fromBob }
}

/** The reader scrolls `list` to `top` (the scroll event the page hears, as a user's would be). */
function scrollTo(list: HTMLElement, top: number) {
  act(() => {
    list.scrollTop = top
    list.dispatchEvent(new Event('scroll'))
  })
}

const button = (name: string) => [...page.container.querySelectorAll('button')].find((b) => b.textContent === name)
const newBelow = () => page.container.querySelector('[data-testid=new-below]')

describe('a new message while the reader is up the thread', () => {
  test('shows "New message below", which takes the reader to it and goes', async () => {
    const { store, list, fromBob } = await readingUp()
    fromBob(21)
    await eventually(() => expect(page.container.querySelector('[data-message-id=m21]')).not.toBeNull())
    expect(list.scrollTop).toBe(0)
    const shown = await eventually(() => {
      expect(button('New message below')).toBeDefined()
      return button('New message below')!
    })

    act(() => shown.focus())
    act(() => shown.click())
    expect(list.scrollTop).toBe(list.scrollHeight - list.clientHeight)
    expect(newBelow()).toBeNull()
    // The button went from under the keyboard: focus stays in the thread, at the messages.
    expect(document.activeElement).toBe(list)
    store.dispose()
  })

  test('says how many are new ("New messages below"), and goes once the reader scrolls down to them', async () => {
    const { store, list, fromBob } = await readingUp()
    fromBob(21)
    fromBob(22)
    await eventually(() => expect(button('New messages below')).toBeDefined())
    scrollTo(list, 600)
    expect(button('New messages below')).toBeDefined()
    scrollTo(list, list.scrollHeight - list.clientHeight)
    expect(newBelow()).toBeNull()
    store.dispose()
  })

  test('does not show for a reader at the end, who sees the message come', async () => {
    const { store, list, fromBob } = await readingUp()
    scrollTo(list, list.scrollHeight - list.clientHeight)
    fromBob(21)
    await eventually(() => expect(page.container.querySelector('[data-message-id=m21]')).not.toBeNull())
    expect(list.scrollTop).toBe(list.scrollHeight - list.clientHeight)
    expect(newBelow()).toBeNull()
    store.dispose()
  })

  test('is in French for a French reader', async () => {
    window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    const { store, fromBob } = await readingUp()
    fromBob(21)
    await eventually(() => expect(button('Nouveau message en bas')).toBeDefined())
    fromBob(22)
    await eventually(() => expect(button('Nouveaux messages en bas')).toBeDefined())
    store.dispose()
  })
})
