// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { navigate } from '../../src/app/router'
import { MAX_CONTENT_LENGTH } from '../../src/contract'
import { eventually } from './support/eventually'
import {
  appStore,
  pagePerTest,
  politeSaid,
  renderApp,
  saidIn,
  threadApi,
  threadWithFocusedComposer,
  type,
} from './support/page'

// Enter in the composer is the user asking to send: when nothing goes, they are told why, as for a blank draft.

const page = pagePerTest('#/messages/c1')

/**
 * Enter pressed in `field`, once what it said has reached the live regions' observers (their records come after);
 * `repeat`: the key held down, its repeats.
 */
async function pressEnter(field: HTMLElement, repeat = false) {
  act(() => {
    field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true, repeat }))
  })
  await act(async () => {})
}

describe('Enter in the composer on a draft over the length limit', () => {
  test('says it is too long, once for each press, and sends nothing', async () => {
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const polite = politeSaid()
    const assertive = saidIn('[data-testid=announcer-assertive]')
    const tooLong = '4,001 / 4,000 characters: too long; shorten it.'
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

describe('the composer counts characters as the contract does: an emoji is one', () => {
  test('4,000 characters, one an emoji, are sent; 4,001 emoji are said to be 4,001', async () => {
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const polite = politeSaid()
    const content = `${'x'.repeat(MAX_CONTENT_LENGTH - 1)}😀`
    type(composer, content)
    await pressEnter(composer)
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    expect(sockets.last.sent('message:send')[0]!.args[0]).toMatchObject({ content })
    expect(polite).not.toContain(expect.stringContaining('too long'))

    type(composer, '😀'.repeat(MAX_CONTENT_LENGTH + 1))
    await eventually(() => expect(polite).toContain('4,001 / 4,000 characters: too long; shorten it.'))
    store.dispose()
  })
})

describe('Enter in the composer on a blank draft', () => {
  test('says there is nothing to send, once for each press, as for a draft over the limit', async () => {
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const assertive = saidIn('[data-testid=announcer-assertive]')
    const blank = 'Nothing to send: type a message; spaces alone are not sent.'
    type(composer, '   ')

    await pressEnter(composer)
    expect(assertive).toEqual([blank])
    await pressEnter(composer)
    expect(assertive).toEqual([blank, blank])

    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(document.activeElement).toBe(composer)
    store.dispose()
  })
})

describe('Enter held down after a send', () => {
  // Review: the key's repeats found the draft empty once the first had sent it, and each said "Nothing to send" (a
  // held key repeats some 30 times a second): a screen reader user heard an error for a send that went.
  test('sends once, and its repeats say nothing and add no line', async () => {
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const assertive = saidIn('[data-testid=announcer-assertive]')
    type(composer, 'hello')
    await pressEnter(composer)
    for (let i = 0; i < 5; i++) await pressEnter(composer, true)
    expect(sockets.last.sent('message:send')).toHaveLength(1)
    expect(assertive).toEqual([])
    expect(composer.value).toBe('')
    store.dispose()
  })
})

describe('Enter pressed twice to send', () => {
  // Review: a quick second press (a double tap, a bouncing key: two presses, not a held key's repeats) found the field
  // the first had just emptied and said "Nothing to send: … spaces alone are not sent", the field marked invalid in red,
  // under a message that went.
  test('sends once, and the second press says nothing; a blank draft typed after is still told', async () => {
    const { store, sockets, composer } = await threadWithFocusedComposer(page)
    const assertive = saidIn('[data-testid=announcer-assertive]')
    type(composer, 'hello')
    await pressEnter(composer)
    await pressEnter(composer)
    expect(sockets.last.sent('message:send')).toHaveLength(1)
    expect(assertive).toEqual([])
    expect(composer.getAttribute('aria-invalid')).toBeNull()

    type(composer, '   ')
    await pressEnter(composer)
    expect(assertive).toEqual(['Nothing to send: type a message; spaces alone are not sent.'])
    store.dispose()
  })
})

/**
 * Every text alerted from now on, as screen readers hear it: an element with role alert inserted with its words, or
 * words inserted into one (the announcer's assertive region).
 */
function alerted(): string[] {
  const said: string[] = []
  new MutationObserver((records) => {
    for (const r of records)
      for (const n of r.addedNodes) {
        if (!(n instanceof Element) || !n.textContent) continue
        if (n.closest('[role=alert]')) said.push(n.textContent)
        else for (const alert of n.querySelectorAll('[role=alert]')) if (alert.textContent) said.push(alert.textContent)
      }
  }).observe(document.body, { childList: true, subtree: true })
  return said
}

describe('Enter in the composer with the outbox full', () => {
  const full = 'Too many messages are waiting to be sent. Your text is kept: send it once they have gone.'
  const composer = () =>
    eventually(() => {
      const el = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
      expect(el).not.toBeNull()
      return el!
    })

  // Review: the refusal was an alert drawn with its words each time the composer was, so coming back to the
  // conversation said it again (some screen readers read such an alert on insertion), though nothing had changed.
  test('says why, once for each press; coming back, the refusal is on the field, not said again', async () => {
    const { store, sockets } = appStore(threadApi, { realtime: { outboxLimit: 1 } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    type(await composer(), 'first')
    await pressEnter(await composer())
    expect(sockets.last.sent('message:send')).toHaveLength(1)
    const said = alerted()

    type(await composer(), 'second')
    await pressEnter(await composer())
    expect(said).toEqual([full])

    for (let visit = 0; visit < 2; visit++) {
      act(() => navigate({ page: 'lessons' }))
      await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Lessons'))
      act(() => navigate({ page: 'messages', conversationId: 'c1' }))
      const field = await composer()
      await act(async () => {})
      expect(said).toEqual([full])
      // As it was left: the draft kept, and why it was not sent, in the field's description.
      expect(field.value).toBe('second')
      const described = (field.getAttribute('aria-describedby') ?? '').split(/\s+/)
      expect(described.map((id) => document.getElementById(id)?.textContent)).toContain(full)
    }

    // Pressed again, still full: said again.
    await pressEnter(await composer())
    expect(said).toEqual([full, full])
    expect(sockets.last.sent('message:send')).toHaveLength(1)
    store.dispose()
  })
})
