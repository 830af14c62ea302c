// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { loggedOut } from '../../src/app/authSlice'
import { navigate } from '../../src/app/router'
import { eventually } from '../unit/support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp, type } from './support/page'

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
})
