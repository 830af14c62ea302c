// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { alice, bob, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { withLayout } from './support/layout'
import { bobsThreadApi, connectedApp, json, pagePerTest } from './support/page'

// Review: "Seen" is drawn under our last message when the other person reads it; at the end of the thread, the line
// appeared below the window (the thread followed new messages only), so the reader who waited for it did not see it.

const page = pagePerTest('#/messages/c1')

describe('a reader at the end of the thread, their last message not yet seen', () => {
  test('sees "Seen" once the other person has read it', async () => {
    const thread = Array.from({ length: 20 }, (_, i) => message(i + 1, { senderId: i + 1 === 20 ? alice.id : bob.id }))
    const { store, sockets } = connectedApp(
      page,
      bobsThreadApi(() => json(200, thread)),
    )
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(20))
    const list = page.container.querySelector<HTMLElement>('[data-testid=message-list]')!
    withLayout(
      list,
      () =>
        100 * list.querySelectorAll('[data-testid=message]').length +
        20 * list.querySelectorAll('[data-testid=seen]').length,
    )
    act(() => {
      list.scrollTop = list.scrollHeight
      list.dispatchEvent(new Event('scroll'))
    })
    expect(list.scrollTop).toBe(1500)

    act(() =>
      sockets.last.serverEmit('conversation:seen', { conversationId: 'c1', userId: bob.id, seq: 20 }, { offset: 2 }),
    )
    await eventually(() => expect(page.container.querySelector('[data-testid=seen]')).not.toBeNull())
    expect(list.scrollTop).toBe(list.scrollHeight - list.clientHeight)
    store.dispose()
  })
})
