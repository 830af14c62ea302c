// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { bob, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { withLayout } from './support/layout'
import { bobsThreadApi, connectedApp, pageEndingAt, pagePerTest } from './support/page'

// Review: joining a thread's room tells the server the user is looking at it, and the server marks read what is there
// and all that comes while it stays joined, and tells the other person "Seen". A reader scrolled up the thread stayed
// joined: Bob's messages that came below the view ("New message below") were marked read, and Bob saw "Seen" under
// messages Alice had not seen; a reconnect joined the room again, marking read what came meanwhile, still below her.
// As chat apps do, the thread counts as looked at only while its newest messages are in view.

const page = pagePerTest('#/messages/c1')

/** Alice's thread with Bob (his messages 1–20, 100 px each in a 500 px view), joined, the reader at the end. */
async function openAtTheEnd() {
  const { store, sockets } = connectedApp(
    page,
    bobsThreadApi(() => pageEndingAt(20)),
  )
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(20))
  await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
  const list = page.container.querySelector<HTMLElement>('[data-testid=message-list]')!
  withLayout(list, () => 100 * list.querySelectorAll('[data-testid=message]').length)
  scrollTo(list, list.scrollHeight - list.clientHeight)
  let offset = 2
  const fromBob = (seq: number) =>
    act(() => sockets.last.serverEmit('message:new', message(seq, { senderId: bob.id }), { offset: offset++ }))
  /** Whether the socket's last word about c1 is a join: the server marks read what comes there. */
  const looking = () =>
    sockets.last.emitted.filter((p) => p.event === 'conversation:join' || p.event === 'conversation:leave').at(-1)
      ?.event === 'conversation:join'
  return { store, sockets, list, fromBob, looking }
}

/** The reader scrolls `list` to `top` (the scroll event the page hears, as a user's would be). */
function scrollTo(list: HTMLElement, top: number) {
  act(() => {
    list.scrollTop = top
    list.dispatchEvent(new Event('scroll'))
  })
}

const unread = () => page.container.querySelector('[data-testid=unread-count]')?.textContent ?? null

describe('a reader scrolled up the thread', () => {
  test('is not looking at what comes below: it stays unread until they reach it', async () => {
    const { store, list, fromBob, looking } = await openAtTheEnd()
    expect(looking()).toBe(true)

    scrollTo(list, 0)
    expect(looking()).toBe(false)
    fromBob(21)
    await eventually(() => expect(page.container.querySelector('[data-testid=new-below]')).not.toBeNull())
    await eventually(() => expect(unread()).toContain('1'))

    scrollTo(list, list.scrollHeight - list.clientHeight)
    expect(looking()).toBe(true)
    store.dispose()
  })

  test('"New message below" takes them to it, which they then see (read)', async () => {
    const { store, list, fromBob, looking } = await openAtTheEnd()
    scrollTo(list, 0)
    fromBob(21)
    const button = await eventually(() => {
      const found = page.container.querySelector<HTMLButtonElement>('[data-testid=new-below]')
      expect(found).not.toBeNull()
      return found!
    })
    expect(looking()).toBe(false)
    act(() => button.click())
    expect(looking()).toBe(true)
    store.dispose()
  })

  test('is not made to look by a reconnect: the room is not joined again while they are up', async () => {
    const { store, sockets, list, looking } = await openAtTheEnd()
    scrollTo(list, 0)
    const joins = sockets.last.sent('conversation:join').length
    act(() => sockets.last.serverDrop())
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    expect(sockets.last.sent('conversation:join')).toHaveLength(joins)
    expect(looking()).toBe(false)
    store.dispose()
  })
})
