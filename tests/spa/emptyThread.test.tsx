// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { bob, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { appStore, bobsThreadApi, json, pagePerTest, renderApp } from './support/page'

// A conversation with no message yet says so ("No messages yet. Say hello!"), and drew an empty list after it, which
// a screen reader announces as "list, 0 items": words about nothing, after the sentence that said it.

const page = pagePerTest('#/messages/c1')

describe('a conversation with no message yet', () => {
  test('says so, with no empty list after it; the first message comes in a list', async () => {
    const { store, sockets } = appStore(
      bobsThreadApi(() => json(200, [])),
      { realtime: { invalidationWindowMs: 0 } },
    )
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    const list = page.container.querySelector<HTMLElement>('[data-testid=message-list]')!
    await eventually(() => expect(list.textContent).toContain('No messages yet. Say hello!'))
    expect(list.querySelector('ol, ul, [role=list]')).toBeNull()

    act(() => sockets.last.serverEmit('message:new', message(1, { senderId: bob.id }), { offset: 2 }))
    await eventually(() => expect(list.querySelectorAll('ol > [data-testid=message]')).toHaveLength(1))
    expect(list.textContent).not.toContain('No messages yet')
    store.dispose()
  })
})
