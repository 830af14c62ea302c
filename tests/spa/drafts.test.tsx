// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { loggedOut } from '../../src/app/authSlice'
import { navigate } from '../../src/app/router'
import { eventually } from './support/eventually'
import { MAX_CONTENT_LENGTH } from '../../src/contract'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp, type } from './support/page'

// A message half-written in one conversation is the user's text: going to another conversation (or page) to look
// something up, and coming back, must find it where it was, and nowhere else.

const page = pagePerTest('#/messages/c1')

/** Alice's two conversations with Bob, c1 and c2, one message each. */
const twoThreads = apiRoutes((_method, path) => {
  if (path === '/api/conversations') return json(200, [conversation('c1'), conversation('c2')])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
  if (path === '/api/conversations/c2/messages') return json(200, [message(1, { id: 'c2-m1', conversationId: 'c2' })])
  if (path === '/api/users') return json(200, [alice, bob])
  return json(200, [])
})

/** The composer of the thread open on `conversationId`, once that thread is read. */
const composerOf = (conversationId: string) =>
  eventually(() => {
    const el = page.container.querySelector<HTMLTextAreaElement>(
      `[data-testid=thread][data-conversation-id="${conversationId}"] [data-testid=composer]`,
    )
    expect(el).not.toBeNull()
    return el!
  })

describe('the composer’s draft', () => {
  test('is kept per conversation: another conversation starts empty, and coming back finds it', async () => {
    const { store, sockets } = appStore(twoThreads)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    type(await composerOf('c1'), 'See you on Tues')

    act(() => navigate({ page: 'messages', conversationId: 'c2' }))
    expect((await composerOf('c2')).value).toBe('')
    type(await composerOf('c2'), 'other words')

    act(() => navigate({ page: 'lessons' }))
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Lessons'))
    act(() => navigate({ page: 'messages', conversationId: 'c1' }))
    expect((await composerOf('c1')).value).toBe('See you on Tues')
    act(() => navigate({ page: 'messages', conversationId: 'c2' }))
    expect((await composerOf('c2')).value).toBe('other words')
    store.dispose()
  })

  test('is gone once sent, and is not kept for the next user after a logout', async () => {
    const { store, sockets } = appStore(twoThreads)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const composer = await composerOf('c1')
    type(composer, 'sent at once')
    act(() => composer.form!.requestSubmit())
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    type(composer, 'not sent')
    act(() => navigate({ page: 'messages', conversationId: 'c2' }))
    await composerOf('c2')
    act(() => navigate({ page: 'messages', conversationId: 'c1' }))
    expect((await composerOf('c1')).value).toBe('not sent')

    act(() => void store.dispatch(loggedOut({ keepOutbox: false })))
    await eventually(() => expect(page.container.querySelector('[data-testid=composer]')).toBeNull())
    act(() => void store.dispatch({ type: 'auth/loggedIn', payload: { token: 'token-2', user: alice } }))
    act(() => navigate({ page: 'messages', conversationId: 'c1' }))
    expect((await composerOf('c1')).value).toBe('')
    store.dispose()
  })

  // A reload (F5 by mistake, or the browser discarding a background tab to save memory, which reloads it on return)
  // took the half-written message with it: the drafts lived in the page's memory alone.
  test('survives a reload of the tab, and a logout leaves none for after one', async () => {
    const first = appStore(twoThreads)
    renderApp(page.root, first.store)
    act(() => first.sockets.last.serverConnect())
    type(await composerOf('c1'), 'half written before the reload')
    act(() => page.root.unmount())
    first.store.dispose()

    const { createRoot } = await import('react-dom/client')
    const root = createRoot(page.container)
    const second = appStore(twoThreads)
    renderApp(root, second.store)
    act(() => second.sockets.last.serverConnect())
    expect((await composerOf('c1')).value).toBe('half written before the reload')

    act(() => void second.store.dispatch(loggedOut({ keepOutbox: false })))
    await eventually(() => expect(page.container.querySelector('[data-testid=composer]')).toBeNull())
    act(() => root.unmount())
    second.store.dispose()
    const again = createRoot(page.container)
    const third = appStore(twoThreads)
    renderApp(again, third.store)
    act(() => third.sockets.last.serverConnect())
    expect((await composerOf('c1')).value).toBe('')
    act(() => again.unmount())
    third.store.dispose()
  })

  // Review: the composer said "too long" through the polite region each time it was drawn with such a draft, so every
  // return to the conversation said it twice (the region, and the field's description as focus lands in it), though
  // nothing had changed since the user left it.
  test('over the limit, it comes back as it was left: the error on the field, said as it went over, not on each return', async () => {
    const { store, sockets } = appStore(twoThreads)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const said = politeSaid()
    const tooLong = `4,001 / 4,000 characters: too long; shorten it.`
    type(await composerOf('c1'), 'x'.repeat(MAX_CONTENT_LENGTH + 1))
    await eventually(() => expect(said).toEqual([tooLong]))

    for (let visit = 0; visit < 2; visit++) {
      act(() => navigate({ page: 'messages', conversationId: 'c2' }))
      await composerOf('c2')
      act(() => navigate({ page: 'messages', conversationId: 'c1' }))
      const composer = await composerOf('c1')
      // As it was left: the text, the field marked invalid and described by the error, Send off; and focus in it, so a
      // screen reader reads that description where a sighted user sees it.
      expect(composer.value).toHaveLength(MAX_CONTENT_LENGTH + 1)
      await eventually(() => expect(document.activeElement).toBe(composer))
      expect(composer.getAttribute('aria-invalid')).toBe('true')
      expect(document.getElementById(composer.getAttribute('aria-describedby')!)?.textContent).toBe(tooLong)
      expect(composer.form!.querySelector<HTMLButtonElement>('button[type=submit]')!.disabled).toBe(true)
      await act(async () => {})
    }
    expect(said).toEqual([tooLong])

    // Typed under the limit and over it again, it is said again, as when it was first typed.
    type(await composerOf('c1'), 'x'.repeat(MAX_CONTENT_LENGTH))
    type(await composerOf('c1'), 'x'.repeat(MAX_CONTENT_LENGTH + 1))
    await eventually(() => expect(said).toEqual([tooLong, tooLong]))
    store.dispose()
  })
})
