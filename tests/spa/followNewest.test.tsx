// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { bob, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { withLayout } from './support/layout'
import { bobsThreadApi, connectedApp, pageEndingAt, pagePerTest, type } from './support/page'

// A reader at the newest message follows what comes. Bob's answer that comes while our own message still waits for its
// answer goes above it (confirmed messages first): the last message is still ours, yet the thread grew under the
// reader, who must still see the end of it.

const page = pagePerTest('#/messages/c1')

const statuses = () =>
  [...page.container.querySelectorAll('[data-testid=message]')].map((el) => el.getAttribute('data-status'))

describe('a reader at the newest message, ours waiting for its answer', () => {
  test("sees the other side's message that comes meanwhile", async () => {
    const { store, sockets } = connectedApp(
      page,
      bobsThreadApi(() => pageEndingAt(20)),
    )
    await eventually(() => expect(statuses()).toHaveLength(20))
    const list = page.container.querySelector<HTMLElement>('[data-testid=message-list]')!
    withLayout(list, () => 100 * list.querySelectorAll('[data-testid=message]').length)
    const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
    act(() => type(composer, 'on its way'))
    act(() => composer.form!.requestSubmit())
    await eventually(() => expect(statuses().at(-1)).toBe('pending'))
    // At the end of the thread: 21 messages, the window's 500 px at the bottom.
    expect(list.scrollTop).toBe(1600)

    act(() =>
      sockets.last.serverEmit('message:new', message(21, { senderId: bob.id, content: 'and from me' }), { offset: 2 }),
    )
    await eventually(() => expect(page.container.querySelector('[data-message-id=m21]')).not.toBeNull())
    expect(statuses().at(-1)).toBe('pending')
    expect(list.scrollTop).toBe(list.scrollHeight - list.clientHeight)
    store.dispose()
  })
})
