// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { discardMessage, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, message } from '../unit/support/fixtures'
import { appStore, pagePerTest, renderApp, threadApi } from './support/page'

// Each failed message has its own Retry and Discard: a screen reader going through several of them must hear which
// message each button acts on, not "Retry, Discard, Retry, Discard".

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** The accessible description `el` gets from `aria-describedby`, as the accname spec puts it together. */
function descriptionOf(el: Element): string {
  const ids = (el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean)
  return ids
    .map((id) => document.getElementById(id)?.textContent?.trim() ?? '')
    .filter(Boolean)
    .join(' ')
    .replace(/\s+/g, ' ')
}

describe('Retry and Discard on failed messages', () => {
  test.each([
    ['en', 'Retry', 'Discard', 'Not sent: That was not accepted. Check what you entered.'],
    ['fr', 'Réessayer', 'Abandonner', 'Non envoyé : Cela n’a pas été accepté. Vérifiez ce que vous avez saisi.'],
  ] as const)(
    '(%s) are each described by their own message and why it was not sent',
    async (locale, retry, discard, notSent) => {
      localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      const { store, sockets } = appStore(threadApi)
      renderApp(page.root, store)
      act(() => sockets.last.serverConnect())
      await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
      const drafts = ['first draft', 'second draft']
      for (const [i, content] of drafts.entries()) {
        act(() => void store.dispatch(sendMessage({ conversationId: 'c1', content, clientId: `k${i}` })))
        await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(i + 1))
        await act(async () => {
          sockets.last
            .sent('message:send')
            [i]!.ack({ ok: false, error: { code: 'INVALID', message: 'content: not accepted' } })
        })
      }
      await eventually(() => expect(page.container.querySelectorAll('[data-status=failed]')).toHaveLength(2))

      const failed = [...page.container.querySelectorAll('[data-status=failed]')]
      for (const [i, item] of failed.entries()) {
        const buttons = [...item.querySelectorAll('button')]
        // The names stay the short words shown (what voice control users say); the description tells them apart.
        expect(buttons.map((b) => b.textContent)).toEqual([retry, discard])
        for (const button of buttons) {
          const description = descriptionOf(button)
          expect(description).toBe(`${drafts[i]} ${notSent}`.replace(/\s+/g, ' '))
          expect(description).not.toContain(drafts[1 - i])
        }
      }
      store.dispose()
    },
  )
})

describe('Retry or Discard with keyboard focus, when the failed message is settled in another tab', () => {
  // The user's other tab discards the message (this tab hears it through storage and drops it, as `syncDiscards` does)
  // or retries it and the server confirms it: the buttons that had focus here go. A removed focused element leaves
  // focus on <body>, and the next Tab starts again from the top of the page (WCAG 2.4.3); the user's own Retry and
  // Discard leave it in the composer.
  test.each([
    ['discarded there', 'discard'],
    ['retried there and sent', 'sent'],
  ] as const)('%s: focus goes to the composer, not to <body>', async (_case, how) => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    act(() => void store.dispatch(sendMessage({ conversationId: 'c1', content: 'first draft', clientId: 'k0' })))
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    await act(async () => {
      sockets.last
        .sent('message:send')[0]!
        .ack({ ok: false, error: { code: 'INVALID', message: 'content: not accepted' } })
    })
    const retry = await eventually(() => {
      const found = page.container.querySelector<HTMLButtonElement>('[data-status=failed] button')
      expect(found?.textContent).toBe('Retry')
      return found!
    })
    act(() => retry.focus())
    act(() => {
      if (how === 'discard') store.dispatch(discardMessage({ clientId: 'k0' }))
      else
        sockets.last.serverEmit(
          'message:sent',
          message(2, { senderId: alice.id, clientId: 'k0', content: 'first draft' }),
        )
    })
    await eventually(() => expect(page.container.querySelector('[data-status=failed]')).toBeNull())
    expect(retry.isConnected).toBe(false)
    expect(document.activeElement).toBe(page.container.querySelector('[data-testid=composer]'))
    store.dispose()
  })
})
