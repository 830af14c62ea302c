// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { appStore, pagePerTest, politeSaid, renderApp, threadApi, type } from './support/page'

// Discard on a message the server refused took it away at once, for good: a slip (Discard beside Retry, a tap on a
// phone) lost what the user wrote, with nothing to bring it back. The thread now says "Message discarded." with an Undo
// beside the composer, which puts the text back in the composer (after what is written there), to send again or edit.

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/**
 * Alice's thread c1 with her message `content` refused (INVALID: a refusal of the conversation itself would close its
 * composer), its Discard found by its words `discard`.
 */
async function refused(content: string, discard: string) {
  const { store, sockets } = appStore(threadApi)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  act(() => void store.dispatch(sendMessage({ conversationId: 'c1', content, clientId: 'k0' })))
  await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
  await act(async () => {
    sockets.last
      .sent('message:send')[0]!
      .ack({ ok: false, error: { code: 'INVALID', message: 'content: not accepted' } })
  })
  const button = await eventually(() => {
    const found = [...page.container.querySelectorAll('[data-status=failed] button')].find(
      (b) => b.textContent === discard,
    )
    expect(found).toBeInstanceOf(HTMLButtonElement)
    return found as HTMLButtonElement
  })
  const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
  return { store, button, composer }
}

const buttonNamed = (name: string) =>
  [...page.container.querySelectorAll('button')].find((b) => b.textContent === name) as HTMLButtonElement | undefined

describe('Discard on a message not sent', () => {
  test.each([
    ['en', 'Discard', 'Message discarded.', 'Undo'],
    ['fr', 'Abandonner', 'Message abandonné.', 'Annuler'],
  ] as const)('(%s) can be undone: the text comes back in the composer', async (locale, discard, said, undo) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, button, composer } = await refused('a long message I wrote', discard)
    const polite = politeSaid()
    act(() => button.focus())
    act(() => button.click())
    await eventually(() => expect(page.container.querySelector('[data-status=failed]')).toBeNull())
    expect(document.activeElement).toBe(composer)
    expect(polite).toContain(said)
    const undoButton = buttonNamed(undo)
    expect(undoButton, `a button "${undo}"`).toBeInstanceOf(HTMLButtonElement)
    act(() => undoButton!.focus())
    act(() => undoButton!.click())
    expect(composer.value).toBe('a long message I wrote')
    expect(document.activeElement).toBe(composer)
    expect(buttonNamed(undo)).toBeUndefined()
    store.dispose()
  })

  test('undone over a draft, keeps the draft and puts the text after it', async () => {
    const { store, button, composer } = await refused('the refused one', 'Discard')
    act(() => button.click())
    type(composer, 'new draft')
    act(() => buttonNamed('Undo')!.click())
    expect(composer.value).toBe('new draft\nthe refused one')
    store.dispose()
  })

  test('no longer offers Undo once the user has sent something', async () => {
    const { store, button, composer } = await refused('the refused one', 'Discard')
    act(() => button.click())
    expect(buttonNamed('Undo')).toBeInstanceOf(HTMLButtonElement)
    type(composer, 'something else')
    act(() => composer.closest('form')!.requestSubmit())
    await eventually(() => expect(composer.value).toBe(''))
    expect(buttonNamed('Undo')).toBeUndefined()
    store.dispose()
  })
})
