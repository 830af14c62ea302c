import { describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  e2ePerFile,
  gotoConversation,
  holdRequests,
  loginAs,
  messagesWithText,
  openConversationWith,
  openTab,
  send,
  shot,
  unique,
} from './support/app'
import { hangBound } from '../support/hangBound'

describe('chat in a real browser', () => {
  const e2e = e2ePerFile()

  it('Alice and Bob, in two browser contexts, chat both ways without reloading', async () => {
    const alice = await loginAs(e2e, 'alice')
    const bob = await loginAs(e2e, 'bob')
    try {
      const id = await openConversationWith(alice.page, 'Bob')

      // Bob is on his conversation list: the message shows there as the last one, unread.
      const hello = unique('Hello Bob, it is Alice')
      await send(alice.page, hello)
      await messagesWithText(alice.page, hello)
        .and(alice.page.locator('[data-status="sent"]'))
        .waitFor({ timeout: hangBound() })
      const bobConv = bob.page.locator(`[data-testid="conversation"][data-conversation-id="${id}"]`)
      await bobConv.getByTestId('conversation-last').filter({ hasText: hello }).waitFor({ timeout: hangBound() })
      await bobConv.getByTestId('unread-count').waitFor({ timeout: hangBound() })
      await bob.page.getByTestId('nav-messages-count').waitFor({ timeout: hangBound() })
      await shot(bob.page, 'messages-list-bob-unread-desktop')

      // He opens it: the message is there and the conversation is read (the server says so over the socket).
      await bobConv.click()
      await messagesWithText(bob.page, hello).waitFor({ timeout: hangBound() })
      await bobConv.getByTestId('unread-count').waitFor({ state: 'detached', timeout: hangBound() })

      const reply = unique('Hi Alice, Bob here')
      await send(bob.page, reply)
      await messagesWithText(alice.page, reply).waitFor({ timeout: hangBound() })

      // The conversation list shows the newest message as the last one, on both sides.
      const aliceConv = alice.page.locator(`[data-testid="conversation"][data-conversation-id="${id}"]`)
      await aliceConv.getByTestId('conversation-last').filter({ hasText: reply }).waitFor({ timeout: hangBound() })

      expect(await messagesWithText(alice.page, hello).count()).toBe(1)
      expect(await messagesWithText(bob.page, reply).count()).toBe(1)
      await shot(alice.page, 'messages-alice-desktop')
      await shot(bob.page, 'messages-bob-desktop')
    } finally {
      await alice.context.close()
      await bob.context.close()
    }
  })

  it('Alice in two tabs: a message sent in one appears in the other, once', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Carol')
      const second = await openTab(alice, `${e2e.url}/#/messages/${id}`)
      await gotoConversation(second, id)

      const text = unique('From tab one')
      await send(alice.page, text)
      await messagesWithText(alice.page, text)
        .and(alice.page.locator('[data-status="sent"]'))
        .waitFor({ timeout: hangBound() })
      await messagesWithText(second, text).waitFor({ timeout: hangBound() })

      // A later message from the other tab has made a full round trip after the first: any duplicate of the first
      // would have arrived by then.
      // Shift+Enter is a newline, Enter sends.
      const back = unique('From tab two')
      const composer = second.getByTestId('composer')
      await composer.fill(back)
      await composer.press('Shift+Enter')
      await composer.pressSequentially('second line')
      await composer.press('Enter')
      await messagesWithText(alice.page, back)
        .and(alice.page.locator('[data-status="sent"]'))
        .waitFor({ timeout: hangBound() })
      await messagesWithText(second, back).and(second.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })

      for (const page of [alice.page, second]) {
        expect(await messagesWithText(page, text).count()).toBe(1)
        expect(await messagesWithText(page, back).count()).toBe(1)
        expect(await messagesWithText(page, back).locator('.msg-body').textContent()).toBe(`${back}\nsecond line`)
      }
    } finally {
      await alice.context.close()
    }
  })

  it('loads earlier messages on demand, each once, in order', async () => {
    // 60 new messages in Alice and Carol's conversation: the thread opens on the latest 50.
    const [a, c] = await Promise.all([apiLogin(e2e, 'alice'), apiLogin(e2e, 'carol')])
    const conversation = await apiCall<{ id: string }>(e2e, a.token, 'POST', '/api/conversations', {
      participantId: c.user.id,
    })
    for (let i = 1; i <= 60; i++) {
      const sender = i % 2 ? a : c
      await apiCall(e2e, sender.token, 'POST', `/api/conversations/${conversation.id}/messages`, {
        content: `Backlog message ${i}`,
        clientId: crypto.randomUUID(),
      })
    }
    const all = await apiCall<Array<{ id: string; seq: number }>>(
      e2e,
      a.token,
      'GET',
      `/api/conversations/${conversation.id}/messages?limit=200`,
    )

    const alice = await loginAs(e2e, 'alice')
    try {
      await gotoConversation(alice.page, conversation.id)
      const list = alice.page.getByTestId('message')
      await messagesWithText(alice.page, 'Backlog message 60').waitFor({ timeout: hangBound() })
      expect(await list.count()).toBe(50)
      // The thread opens scrolled to the newest message.
      await alice.page.waitForFunction(
        () => {
          const el = document.querySelector('[data-testid="message-list"]')
          return !!el && el.scrollHeight > el.clientHeight && el.scrollTop + el.clientHeight >= el.scrollHeight - 2
        },
        undefined,
        { timeout: hangBound() },
      )
      await alice.page.getByRole('button', { name: 'Load earlier messages' }).click()
      await alice.page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid="message"]').length === n,
        all.length,
        {
          timeout: hangBound(),
        },
      )
      const ids = await list.evaluateAll((els) => els.map((el) => el.getAttribute('data-message-id')))
      expect(ids).toEqual([...all].sort((x, y) => x.seq - y.seq).map((m) => m.id))
      // Everything is loaded: the button goes away.
      await alice.page
        .getByRole('button', { name: 'Load earlier messages' })
        .waitFor({ state: 'detached', timeout: hangBound() })
    } finally {
      await alice.context.close()
    }
  })

  it('a thread whose header grows after its messages are drawn stays at the newest message', async () => {
    // Bob and Carol's conversation (no other test here writes in it), long enough to scroll, none of it Bob's: no
    // "Seen" line comes under one of his (its own scroll would hide what this test looks at).
    const [b, c] = await Promise.all([apiLogin(e2e, 'bob'), apiLogin(e2e, 'carol')])
    const conversation = await apiCall<{ id: string }>(e2e, b.token, 'POST', '/api/conversations', {
      participantId: c.user.id,
    })
    const last = unique('Carol, the newest')
    for (let i = 1; i <= 30; i++) {
      await apiCall(e2e, c.token, 'POST', `/api/conversations/${conversation.id}/messages`, {
        content: i === 30 ? last : `Carol writes ${i}`,
        clientId: crypto.randomUUID(),
      })
    }

    const bob = await loginAs(e2e, 'bob')
    try {
      // A slow phone: the conversation list (which names the thread, and brings Carol's presence under her name) comes
      // after the thread's messages are drawn and scrolled to the newest. Reloaded, the page reads everything again.
      const list = await holdRequests(bob.page, [['GET', /^\/api\/conversations$/]])
      await gotoConversation(bob.page, conversation.id)
      await bob.page.reload()
      await messagesWithText(bob.page, last).waitFor({ timeout: hangBound() })
      const header = bob.page.getByTestId('thread').locator('.thread-head')
      expect(await header.getByTestId('presence').count()).toBe(0)
      list.release()
      await header.getByTestId('presence').waitFor({ timeout: hangBound() })
      // Two frames: the one that lays the taller header out (and anything that answers it), then one after it.
      await bob.page.evaluate(
        () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
      )
      const belowView = await bob.page.getByTestId('message-list').evaluate((el) => ({
        overflows: el.scrollHeight > el.clientHeight,
        px: el.scrollHeight - el.scrollTop - el.clientHeight,
      }))
      expect(belowView).toEqual({ overflows: true, px: expect.toSatisfy((px: number) => px <= 2) })
    } finally {
      await bob.context.close()
    }
  })
})
