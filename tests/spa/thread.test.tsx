// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test, vi } from 'vitest'
import type { Conversation } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { selectPendingMessages } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  json,
  pagePerTest,
  politeSaid,
  renderApp,
  threadApi,
  threadWithFocusedComposer,
  type,
} from './support/page'

// The open thread, for someone who does not see it: what the announcer says.

/** The thread's API, with `list` as the conversations. */
const listing = (...list: Conversation[]) =>
  apiRoutes((_method, path, request) => (path === '/api/conversations' ? json(200, list) : threadApi(request)))

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

describe('the announcer in an open thread', () => {
  test('says a send the server refused, at once (assertive), in the words shown beside it', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    const { container } = page
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    type(container.querySelector('textarea')!, 'hello')
    act(() => container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.click())
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    await act(async () => {
      sockets.last
        .sent('message:send')[0]!
        .ack({ ok: false, error: { code: 'INVALID', message: 'content: not accepted' } })
    })
    await eventually(() => expect(container.querySelector('[data-status=failed]')).not.toBeNull())
    const shown = container.querySelector('[data-status=failed] .msg-state')!.textContent!
    expect(shown).toMatch(/^Not sent: /)
    expect(container.querySelector('[data-testid=announcer-assertive]')!.textContent).toBe(shown)
    store.dispose()
  })

  test('says politely that unread messages came in a conversation that is not open (not what was unread at login)', async () => {
    const { store, sockets } = appStore(listing(conversation('c1'), conversation('c2', { unreadCount: 2 })))
    renderApp(page.root, store)
    const polite = () => page.container.querySelector('[data-testid=announcer-polite]')!.textContent
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    expect(polite()).toBe('')
    act(() => sockets.last.serverEmit('message:new', message(3, { conversationId: 'c2', senderId: bob.id })))
    await eventually(() => expect(polite()).toBe('3 unread messages'))
    store.dispose()
  })

  test.each([
    ['en', /^New message from Bob: in the open thread$/, '1 unread message'],
    ['fr', /^Nouveau message — Bob\s:\sin the open thread$/, '1 message non lu'],
  ] as const)(
    '(%s) says a message in the open thread also when another conversation gets one in the same burst, each once',
    async (locale, inThread, elsewhere) => {
      localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      const { store, sockets } = appStore(listing(conversation('c1', { lastMessage: message(1) }), conversation('c2')))
      // Connected and synced before the page reads (a sync after its reads would read everything again).
      act(() => {
        sockets.last.serverConnect()
        sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
      })
      renderApp(page.root, store)
      await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
      await eventually(() => expect(page.container.querySelectorAll('[data-testid=conversation]')).toHaveLength(2))
      // The server takes the thread's join: only then is c1 looked at (its new messages not unread).
      await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
      act(() => sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null }))
      const said = politeSaid()
      // One burst (one task): Bob writes in the open thread c1, and in c2. The thread says its message at once, the
      // layout that the unread count rose once that has lasted a moment (UNREAD_NEWS_AFTER_MS).
      await act(async () => {
        sockets.last.serverEmit('message:new', message(2, { content: 'in the open thread' }))
        sockets.last.serverEmit('message:new', message(1, { id: 'x1', conversationId: 'c2', content: 'elsewhere' }))
      })
      await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
      await eventually(() => expect(said).toHaveLength(2))
      expect(said).toEqual(expect.arrayContaining([expect.stringMatching(inThread), elsewhere]))
      // Later news is said alone: what was said before is not said again.
      act(() => sockets.last.serverEmit('message:new', message(3, { content: 'later' })))
      await eventually(() => expect(said).toHaveLength(3))
      expect(said[2]).toMatch(/Bob\s?: later$/)
      expect(page.container.querySelector('[data-testid=announcer-polite]')!.textContent).toBe(said[2])
      store.dispose()
    },
  )

  test.each([
    ['en', '1 unread message'],
    ['fr', '1 message non lu'],
  ] as const)(
    '(%s) says a risen unread count once it has lasted a moment, not one that another tab’s open thread reads at once',
    async (locale, oneUnread) => {
      localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      window.history.replaceState(null, '', '#/messages')
      const { store, sockets } = appStore(listing(conversation('c1'), conversation('c2')))
      renderApp(page.root, store)
      act(() => sockets.last.serverConnect())
      await eventually(() => expect(page.container.querySelectorAll('[data-testid=conversation]')).toHaveLength(2))
      const said = politeSaid()
      const count = () => page.container.querySelector('[data-testid=nav-messages-count] [aria-hidden]')?.textContent
      // Async, so that what the region was given is also in `said` (a MutationObserver's callback is a microtask).
      const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
      // What a server event does, drawn (the store notifies after the task, on `setImmediate`; not `eventually`, which
      // moves fake timers on).
      const drawn = () => act(() => new Promise((resolve) => setImmediate(resolve)))
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      try {
        // Another tab of this user has c2 open: this one counts Bob's message there as unread until the server's
        // conversation:read (it marks it read for every visible tab) comes, a moment later.
        act(() => sockets.last.serverEmit('message:new', message(2, { conversationId: 'c2', content: 'seen there' })))
        await drawn()
        expect(count()).toBe('1')
        await wait(500)
        act(() => sockets.last.serverEmit('conversation:read', { conversationId: 'c2', unreadCount: 0 }))
        await drawn()
        expect(count()).toBeUndefined()
        await wait(5000)
        expect(said).toEqual([])
        // Nobody has c2 open now: the next message there stays unread, and is said once, after the moment.
        act(() => sockets.last.serverEmit('message:new', message(3, { conversationId: 'c2', content: 'unread' })))
        await drawn()
        expect(count()).toBe('1')
        await wait(999)
        expect(said).toEqual([])
        await wait(1)
        await wait(5000)
        expect(said).toEqual([oneUnread])
      } finally {
        vi.useRealTimers()
      }
      store.dispose()
    },
  )
})

describe('the announcer after the thread is read again', () => {
  // The news is what the last look at the thread did not hold, not only what is beyond its newest message: a message
  // that comes live while the thread is read again (after a gap) is shown before those that came while away.
  test('messages that came while offline are said, also when a newer one comes live while the thread is read again', async () => {
    let thread = [message(1)]
    let hold = false
    let answer: (() => void) | null = null
    const fetchFn = apiRoutes((_method, path) => {
      if (path === '/api/conversations') return json(200, [conversation('c1', { lastMessage: message(1) })])
      if (path === '/api/users') return json(200, [alice, bob])
      if (path === '/api/conversations/c1/messages') {
        const now = thread
        if (!hold) return json(200, now)
        return new Promise<Response>((resolve) => (answer = () => resolve(json(200, now))))
      }
      return json(200, [])
    })
    const { store, sockets } = appStore(fetchFn, { realtime: { invalidationWindowMs: 0 } })
    renderApp(page.root, store)
    const shown = () =>
      [...page.container.querySelectorAll('[data-testid=message] .msg-body')].map((b) => b.textContent)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(shown()).toEqual(['message 1']))
    const said = politeSaid()
    // Alice's connection drops; Bob writes twice meanwhile. Back, the server cannot replay (a gap): the thread is read again.
    act(() => sockets.last.serverDrop())
    thread = [message(1), message(2, { content: 'while you were away' }), message(3, { content: 'are you there?' })]
    hold = true
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => expect(answer).not.toBeNull())
    // While the read is on its way, Bob writes again, live.
    thread = [...thread, message(4, { content: 'hello?' })]
    act(() => sockets.last.serverEmit('message:new', message(4, { content: 'hello?' }), { offset: 6 }))
    await eventually(() => expect(said).toEqual(['New message from Bob: hello?']))
    await act(async () => answer!())
    await eventually(() => expect(shown()).toEqual(['message 1', 'while you were away', 'are you there?', 'hello?']))
    await act(async () => {})
    // Each of Bob's messages is said once: the two that came while Alice was away too.
    expect(said.join(' ')).toMatch(/while you were away/)
    expect(said.join(' ')).toMatch(/are you there\?/)
    expect(said.join(' ').match(/hello\?/g)).toHaveLength(1)
    store.dispose()
  })
})

describe('clientIds are per sender', () => {
  test("shows another sender's message and ours with the same clientId as two messages, each with its own key", async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    try {
      const { store, sockets } = appStore(threadApi)
      renderApp(page.root, store)
      const shown = () =>
        [...page.container.querySelectorAll('[data-testid=message]')].map(
          (m) => m.querySelector('.msg-body')?.textContent,
        )
      act(() => sockets.last.serverConnect())
      await eventually(() => expect(shown()).toHaveLength(1))
      act(() => sockets.last.serverEmit('message:new', message(2, { clientId: 'same', content: 'from bob' })))
      act(() =>
        sockets.last.serverEmit(
          'message:sent',
          message(3, { id: 'm3', clientId: 'same', senderId: alice.id, content: 'from alice' }),
        ),
      )
      await eventually(() => expect(shown()).toEqual(['message 1', 'from bob', 'from alice']))
      expect(errors.mock.calls.filter((call) => String(call[0]).includes('same key'))).toEqual([])
      store.dispose()
    } finally {
      errors.mockRestore()
    }
  })
})

describe('a thread that could not be read', () => {
  // No composer: a message written there would show nowhere, yet wait unsent (logout would ask about it). No "Try
  // again" either where the answer is final (a made-up or stale link, someone else's conversation): each press was
  // refused the same way.
  test.each([
    [404, 'NOT_FOUND', 'no such conversation', /no longer there/],
    [403, 'FORBIDDEN', 'not a participant', /not allowed/],
  ] as const)(
    'answered %i %s: says so, offers no composer and nothing to try again',
    async (status, code, message, said) => {
      window.history.replaceState(null, '', '#/messages/gone')
      const api = apiRoutes((_method, path, request) => {
        if (path === '/api/conversations/gone/messages') return json(status, { error: { code, message } })
        return threadApi(request)
      })
      const { store, sockets } = appStore(api)
      renderApp(page.root, store)
      act(() => sockets.last.serverConnect())
      const thread = () => page.container.querySelector('[data-testid=thread]')!
      await eventually(() => expect(thread().textContent).toMatch(said))
      expect(page.container.querySelector('[data-testid=composer]')).toBeNull()
      expect([...thread().querySelectorAll('button')].map((b) => b.textContent)).not.toContain('Try again')
      store.dispose()
    },
  )
})

describe('a thread whose first read is still on its way', () => {
  // The composer must not take a message (nor a draft) before the thread is known to be readable: a read that then
  // fails (a stale or someone else's link) leaves a queued message nowhere to be seen, and the draft gone with the form.
  test('takes nothing that a failing read would then hide: no message queued out of sight', async () => {
    window.history.replaceState(null, '', '#/messages/gone')
    let answer: (response: Response) => void = () => {}
    const api = apiRoutes((_method, path, request) => {
      if (path === '/api/conversations/gone/messages') return new Promise<Response>((resolve) => (answer = resolve))
      return threadApi(request)
    })
    const { store, sockets } = appStore(api)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.textContent).toMatch(/Loading/))
    // Whatever the page offers meanwhile is used, as a quick user would.
    const textarea = page.container.querySelector('textarea')
    if (textarea) {
      type(textarea, 'hello')
      act(() => page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.click())
    }
    await act(async () => answer(json(404, { error: { code: 'NOT_FOUND', message: 'no such conversation' } })))
    await eventually(() =>
      expect(page.container.querySelector('[data-testid=thread]')!.textContent).toMatch(/no longer there/),
    )
    expect(page.container.querySelector('[data-testid=composer]')).toBeNull()
    expect(selectPendingMessages(store.getState())).toEqual([])
    store.dispose()
  })
})

describe('who wrote each message, for screen readers', () => {
  test.each([
    ['en', 'You:', 'Bob:'],
    ['fr', 'Vous\u202f:', 'Bob\u202f:'],
  ] as const)('(%s) ours says it is ours, as the others’ say whose they are', async (locale, ours, theirs) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, composer } = await threadWithFocusedComposer(page)
    type(composer, 'mine')
    act(() => page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.click())
    await eventually(() => expect(page.container.querySelector('[data-status=pending]')).not.toBeNull())
    const sayer = (m: Element) => m.querySelector('.sr-only')?.textContent?.trim()
    const messages = [...page.container.querySelectorAll('[data-testid=message]')]
    expect(messages.map(sayer)).toEqual([theirs, ours])
    localStorage.removeItem(LOCALE_STORAGE_KEY)
    store.dispose()
  })
})

describe('the composer with an input method (Japanese, Chinese, Korean)', () => {
  // Safari ends the composition before the keydown of the Enter that confirms it: that keydown says isComposing false,
  // with keyCode 229 ("an input method is handling it"). It confirms the word being composed; it must not send.
  test('Enter that confirms a composition in Safari does not send the half-written message; the next Enter does', async () => {
    const { store, composer } = await threadWithFocusedComposer(page)
    const enter = (keyCode: number) =>
      act(() => {
        composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', keyCode, bubbles: true, cancelable: true }))
      })
    act(() => void composer.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true })))
    type(composer, 'こんにちは')
    act(
      () => void composer.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: 'こんにちは' })),
    )
    enter(229)
    expect(composer.value).toBe('こんにちは')
    expect(selectPendingMessages(store.getState())).toEqual([])
    enter(13)
    await eventually(() =>
      expect(selectPendingMessages(store.getState()).map((m) => m.content)).toEqual(['こんにちは']),
    )
    expect(composer.value).toBe('')
    store.dispose()
  })
})
