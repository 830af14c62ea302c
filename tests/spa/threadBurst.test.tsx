// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp, threadApi } from './support/page'

// Many messages of the other person at once in the open thread (a replay after a reconnect, a burst): a screen reader
// should not be made to read every one of them aloud, one after the other, in one polite announcement (WCAG 4.1.3
// status messages: said, not flooding). They are in the thread, which the user can read at their own pace.

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

test.each([
  ['en', '12 new messages from Bob'],
  ['fr', /^12 nouveaux messages — Bob$/],
] as const)(
  '(%s) a burst of messages in the open thread is said as a count, not read out whole',
  async (locale, expected) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets } = appStore(
      apiRoutes((_method, path, request) =>
        path === '/api/conversations'
          ? json(200, [conversation('c1', { lastMessage: message(1) })])
          : threadApi(request),
      ),
    )
    // Connected and synced before the page reads, as the real server does (the thread joins once synced).
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
    act(() => sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null }))
    const said = politeSaid()
    await act(async () => {
      for (let seq = 2; seq <= 13; seq++)
        sockets.last.serverEmit('message:new', message(seq, { content: `line ${seq} of a long story` }))
    })
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(13))
    await eventually(() => expect(said).toHaveLength(1))
    expect(said[0]).toMatch(expected)
    // A few at once are still read in full, each its own announcement (a node of the live region): joined into one
    // text, "…from Bob: one more New message from Bob: and another" was read as one run-on sentence.
    await act(async () => {
      sockets.last.serverEmit('message:new', message(14, { content: 'one more' }))
      sockets.last.serverEmit('message:new', message(15, { content: 'and another' }))
    })
    await eventually(() => expect(said).toHaveLength(3))
    expect(said.slice(1)).toEqual([
      expect.stringMatching(/Bob\s?: one more$/),
      expect.stringMatching(/Bob\s?: and another$/),
    ])
    store.dispose()
  },
)
