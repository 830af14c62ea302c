// @vitest-environment jsdom
import { readFileSync } from 'node:fs'
import { act } from 'react'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { MAX_CONTENT_LENGTH, type Lesson } from '../../src/contract'
import { createToaster } from '../../src/features/notifications/toaster'
import { fr, LOCALE_STORAGE_KEY } from '../../src/i18n'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, conversation, lesson, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp, type } from './support/page'

// Keyboard focus, what a screen reader hears, French wording and narrow screens: each test names the defect it guards
// against (WCAG 2.2 AA: 2.4.1, 2.4.3, 3.3.1, 4.1.3).

const LONG_AGO = '2026-01-20T08:00:00.000Z'

/** The API the pages load from: one conversation with Bob (messages 2 and 3; message 1 is "earlier"), two lessons, one request. */
const api = apiRoutes(async (method, path, request) => {
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/conversations/c1/messages') {
    return new URL(request.url).searchParams.get('before')
      ? json(200, [message(1)])
      : json(200, [message(2), message(3)])
  }
  if (path === '/api/users') {
    return json(
      200,
      [alice, bob].map((u) => ({ ...u, online: false, lastSeenAt: LONG_AGO })),
    )
  }
  if (path === '/api/lessons') {
    return json(200, [
      lesson('l1', { startsAt: '2026-11-25T08:00:00.000Z' }),
      lesson('l2', { startsAt: '2026-11-26T08:00:00.000Z' }),
    ])
  }
  if (method === 'PATCH' && path.startsWith('/api/lessons/')) {
    const { status } = JSON.parse(await request.text()) as { status: 'cancelled' }
    return json(200, lesson(path.split('/').pop()!, { startsAt: '2026-11-25T08:00:00.000Z', status }))
  }
  if (path === '/api/contact-requests') return json(200, [contactRequest('r1')])
  if (method === 'PATCH' && path.startsWith('/api/contact-requests/')) {
    const { status } = JSON.parse(await request.text()) as { status: 'accepted' }
    return json(200, contactRequest('r1', { status }))
  }
  return json(200, [])
})

const page = pagePerTest()
afterEach(() => {
  localStorage.removeItem(LOCALE_STORAGE_KEY)
  document.head.querySelectorAll('style[data-rv]').forEach((s) => s.remove())
})

const button = (name: string, within: ParentNode = page.container) =>
  [...within.querySelectorAll('button')].find((b) => b.textContent === name)
const h1 = () => page.container.querySelector('h1')?.textContent

/** Alice's page at `hash`, connected to its fake socket, once `count` items `[data-testid=<item>]` are drawn. */
async function openConnected(hash: string, item: string, count: number) {
  window.history.replaceState(null, '', hash)
  const app = appStore(api)
  renderApp(page.root, app.store)
  act(() => app.sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll(`[data-testid=${item}]`)).toHaveLength(count))
  return app
}

const openThread = () => openConnected('#/messages/c1', 'message', 2)

/** Lesson `id` as the server's event has it once its status changed to `status`. */
const lessonUpdate = (status: 'confirmed' | 'cancelled', id = 'l1', over: Partial<Lesson> = {}) =>
  lesson(id, { startsAt: '2026-11-25T08:00:00.000Z', status, updatedAt: '2026-11-24T09:00:00.000Z', ...over })

describe('keyboard focus', () => {
  test('"Skip to content" on the Lessons page moves to the content, not to the Messages page (href="#main" is read as a route)', async () => {
    window.history.replaceState(null, '', '#/lessons')
    const { store } = appStore(api)
    renderApp(page.root, store)
    await eventually(() => expect(h1()).toBe('Lessons'))
    const skip = page.container.querySelector<HTMLAnchorElement>('.skip-link')!
    skip.focus()
    act(() => skip.click())
    expect(window.location.hash).toBe('#/lessons')
    expect(h1()).toBe('Lessons')
    expect(document.activeElement).toBe(page.container.querySelector('main'))
    store.dispose()
  })

  test('"Load earlier messages" that loads the first message leaves focus in the thread, not on <body>', async () => {
    const { store } = await openThread()
    const load = button('Load earlier messages')!
    load.focus()
    act(() => load.click())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(3))
    await eventually(() => expect(button('Load earlier messages')).toBeUndefined())
    // The button is gone (message 1 is the first): focus fell to the body, the keyboard user starts over from the top.
    expect(document.activeElement).not.toBe(document.body)
    store.dispose()
  })

  test('sending with the Send button leaves focus in the composer, not on the now disabled Send button', async () => {
    const { store } = await openThread()
    const composer = page.container.querySelector<HTMLTextAreaElement>('.composer textarea')!
    type(composer, 'hello')
    const send = page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!
    send.focus()
    act(() => send.click())
    expect(send.disabled).toBe(true)
    expect(document.activeElement).toBe(composer)
    store.dispose()
  })

  /** Bob on the Messages page, with one toast (a lesson he was asked for). */
  async function bobWithAToast() {
    window.history.replaceState(null, '', '#/messages')
    const toaster = createToaster()
    const { store } = appStore(api, {
      extraMiddleware: [toaster.middleware],
      preloadedState: { auth: { token: 't', user: bob } },
    })
    renderApp(page.root, store, toaster)
    await eventually(() => expect(h1()).toBe('Messages'))
    act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l9'))))
    return store
  }

  test('dismissing a toast with the keyboard does not drop focus to <body>', async () => {
    const store = await bobWithAToast()
    const close = page.container.querySelector<HTMLButtonElement>('.toast-close')!
    close.focus()
    act(() => close.click())
    expect(page.container.querySelector('[data-testid=toast]')).toBeNull()
    expect(document.activeElement).not.toBe(document.body)
    store.dispose()
  })

  test('a toast does not go while keyboard focus is in it or the pointer over the toasts; it goes 8 s after both left (WCAG 2.2.1)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const store = await bobWithAToast()
      const toast = () => page.container.querySelector('[data-testid=toast]')
      const region = page.container.querySelector<HTMLElement>('.toasts')!
      const main = page.container.querySelector<HTMLElement>('main')!
      const wait = (ms: number) => act(() => void vi.advanceTimersByTime(ms))
      // Reading it, and about to follow its link, with the keyboard.
      act(() => region.querySelector<HTMLAnchorElement>('.toast a')!.focus())
      wait(60_000)
      expect(toast()).not.toBeNull()
      // The pointer comes over the toasts (from the page: React makes its enter of that mouseout) as focus goes back.
      act(() => {
        main.dispatchEvent(new MouseEvent('mouseout', { bubbles: true, relatedTarget: region }))
        main.focus()
      })
      wait(60_000)
      expect(toast()).not.toBeNull()
      // The pointer leaves too: a whole 8 s from now, then it goes, and focus stays where it was.
      act(() => void region.dispatchEvent(new MouseEvent('mouseout', { bubbles: true, relatedTarget: main })))
      wait(7999)
      expect(toast()).not.toBeNull()
      wait(1)
      expect(toast()).toBeNull()
      expect(document.activeElement).toBe(main)
      store.dispose()
    } finally {
      vi.useRealTimers()
    }
  })

  test('confirming a lesson whose event comes before the answer still focuses its card, and says it once', async () => {
    window.history.replaceState(null, '', '#/lessons')
    let answer: (() => void) | null = null
    const held = apiRoutes(async (method, _path, request) => {
      if (method === 'PATCH') {
        await new Promise<void>((resolve) => (answer = resolve))
        return json(200, lesson('l1', { startsAt: '2026-11-25T08:00:00.000Z', status: 'confirmed' }))
      }
      return api(request)
    })
    const { store, sockets } = appStore(held, { preloadedState: { auth: { token: 't', user: bob } } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=lesson]')).toHaveLength(2))
    const said = politeSaid()
    const card = page.container.querySelector<HTMLElement>('[data-lesson-id=l1]')!
    const confirm = button('Confirm', card)!
    confirm.focus()
    act(() => confirm.click())
    await eventually(() => expect(answer).not.toBeNull())
    // The server's event is quicker than its answer: the card is drawn confirmed (its buttons change) first.
    act(() =>
      sockets.last.serverEmit(
        'lesson:statusUpdated',
        lesson('l1', { startsAt: '2026-11-25T08:00:00.000Z', status: 'confirmed' }),
      ),
    )
    await eventually(() => expect(card.querySelector('[data-testid=lesson-status]')?.textContent).toBe('confirmed'))
    await act(async () => answer!())
    await eventually(() => expect(document.activeElement).toBe(card))
    expect(said).toEqual([expect.stringMatching(/was confirmed/)])
    store.dispose()
  })

  test('cancelling a lesson focuses its card, and the card is not then moved in the DOM (a move blurs it in browsers)', async () => {
    window.history.replaceState(null, '', '#/lessons')
    const { store } = appStore(api, { preloadedState: { auth: { token: 't', user: bob } } })
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=lesson]')).toHaveLength(2))
    const card = page.container.querySelector<HTMLElement>('[data-lesson-id=l1]')!
    const list = card.parentElement!
    // Browsers run the focus fixup when a focused node is removed, also when insertBefore/appendChild moves it
    // (the reason for Element.moveBefore); jsdom does not, so record the moves of the card once it has focus.
    const movedWhileFocused: string[] = []
    const observer = new MutationObserver((records) => {
      for (const r of records) for (const n of r.removedNodes) if (n === card) movedWhileFocused.push('card moved')
    })
    card.addEventListener('focus', () => observer.observe(list, { childList: true }))
    act(() => button('Cancel lesson', card)!.click())
    // The second step's yes, focused as a keyboard user would be on it.
    button('Yes, cancel lesson', card)!.focus()
    act(() => button('Yes, cancel lesson', card)!.click())
    await eventually(() => expect(card.querySelector('[data-testid=lesson-status]')?.textContent).toBe('cancelled'))
    await eventually(() => expect(document.activeElement).toBe(card))
    observer.disconnect()
    expect(document.activeElement).toBe(card)
    expect(movedWhileFocused).toEqual([])
    store.dispose()
  })
})

describe('keyboard focus on a card the other person (or another tab) changes', () => {
  test.each([
    [
      'the student cancels the lesson: Confirm (gone with the other buttons) hands focus to the card',
      'Confirm',
      'lessons',
      lessonUpdate('cancelled'),
      'card',
    ],
    [
      'the tutor confirms it in another tab: Confirm (gone; Cancel stays) hands focus to the card',
      'Confirm',
      'lessons',
      lessonUpdate('confirmed'),
      'card',
    ],
    [
      'the tutor confirms it in another tab: Cancel lesson (still there) keeps focus',
      'Cancel lesson',
      'lessons',
      lessonUpdate('confirmed'),
      'button',
    ],
    [
      'the tutor accepts the request in another tab: Accept (gone with Decline) hands focus to the card',
      'Accept',
      'contact-requests',
      contactRequest('r1', { status: 'accepted', updatedAt: '2026-11-24T09:00:00.000Z' }),
      'card',
    ],
  ] as const)('%s, not <body>', async (_name, name, route, update, expected) => {
    window.history.replaceState(null, '', `#/${route}`)
    const { store, sockets } = appStore(api, { preloadedState: { auth: { token: 't', user: bob } } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const card = await eventually(() => {
      const found = page.container.querySelector<HTMLElement>('[data-lesson-id=l1], [data-request-id=r1]')
      expect(found).not.toBeNull()
      return found!
    })
    const pressed = await eventually(() => {
      const found = button(name, card)
      expect(found).toBeDefined()
      return found!
    })
    pressed.focus()
    expect(document.activeElement).toBe(pressed)
    act(() =>
      'subject' in update
        ? sockets.last.serverEmit('lesson:statusUpdated', update)
        : sockets.last.serverEmit('contactRequest:statusUpdated', update),
    )
    await eventually(() => expect(card.querySelector('[data-testid$=-status]')?.textContent).toBe(update.status))
    expect(pressed.isConnected).toBe(expected === 'button')
    expect(document.activeElement).toBe(expected === 'card' ? card : pressed)
    store.dispose()
  })
})

describe('what a screen reader hears', () => {
  test('a lesson the other person confirms while the page is open is said, once', async () => {
    const { store, sockets } = await openConnected('#/lessons', 'lesson', 2)
    const said = politeSaid()
    act(() => sockets.last.serverEmit('lesson:statusUpdated', lessonUpdate('confirmed')))
    const card = page.container.querySelector<HTMLElement>('[data-lesson-id=l1]')!
    await eventually(() => expect(card.querySelector('[data-testid=lesson-status]')?.textContent).toBe('confirmed'))
    await eventually(() => expect(said).toEqual([expect.stringMatching(/was confirmed/)]))
    store.dispose()
  })

  test.each([
    ['en', [/^Lesson “Algebra” \(Bob\) was confirmed$/, /^Lesson “Physics” \(Bob\) was cancelled$/]],
    ['fr', [/^Cours «\sAlgebra\s» \(Bob\) confirmé$/, /^Cours «\sPhysics\s» \(Bob\) annulé$/]],
  ] as const)(
    '(%s) two lessons changed in one burst (a replay after a reconnect) are both said, once each',
    async (locale, texts) => {
      localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      const { store, sockets } = await openConnected('#/lessons', 'lesson', 2)
      const said = politeSaid()
      // Each card says its own change in the same commit: the last card's sentence replaced the first's.
      act(() => {
        for (const [id, status] of [
          ['l1', 'confirmed'],
          ['l2', 'cancelled'],
        ] as const) {
          sockets.last.serverEmit(
            'lesson:statusUpdated',
            lessonUpdate(status, id, { subject: id === 'l1' ? 'Algebra' : 'Physics' }),
          )
        }
      })
      await eventually(() =>
        expect(page.container.querySelectorAll('[data-testid=lesson-status].status-pending')).toHaveLength(0),
      )
      await eventually(() => expect(said).toHaveLength(2))
      expect([...said].sort()).toEqual(texts.map((text) => expect.stringMatching(text)))
      store.dispose()
    },
  )

  test('a request the tutor answers while the student has the page open is said', async () => {
    const { store, sockets } = await openConnected('#/contact-requests', 'contact-request', 1)
    const said = politeSaid()
    act(() =>
      sockets.last.serverEmit(
        'contactRequest:statusUpdated',
        contactRequest('r1', { status: 'accepted', updatedAt: '2026-11-24T09:00:00.000Z' }),
      ),
    )
    await eventually(() => expect(said).toEqual([expect.stringMatching(/accepted/)]))
    store.dispose()
  })

  test('accepting a contact request says that it was accepted (the focused card is named by its title only)', async () => {
    window.history.replaceState(null, '', '#/contact-requests')
    const { store } = appStore(api, { preloadedState: { auth: { token: 't', user: bob } } })
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=contact-request]')).toHaveLength(1))
    const accept = button('Accept')!
    accept.focus()
    act(() => accept.click())
    const card = page.container.querySelector<HTMLElement>('[data-request-id=r1]')!
    await eventually(() =>
      expect(card.querySelector('[data-testid=contact-request-status]')?.textContent).toBe('accepted'),
    )
    expect(document.activeElement).toBe(card)
    // What is said on focus: the card's name (aria-labelledby → its h3); or what the live regions say.
    const name = card
      .getAttribute('aria-labelledby')!
      .split(' ')
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
    const live = [...document.querySelectorAll('[aria-live]:not([aria-live=off]), [role=status], [role=alert]')]
      .map((n) => n.textContent)
      .join(' ')
    expect(`${name} ${live}`).toMatch(/accepted/i)
    store.dispose()
  })
})

describe('French', () => {
  test('"last seen" of an earlier day reads as French ("hors ligne depuis le 20 janv. à 09:00"), not "… depuis 20 janv., 09:00"', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    window.history.replaceState(null, '', '#/messages')
    const { store, sockets } = appStore(api)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelector('[data-testid=presence]')).not.toBeNull())
    const text = page.container.querySelector('[data-testid=presence]')!.textContent!
    expect(text.replace(/\s/g, ' ')).toMatch(/^hors ligne depuis le 20 janv\. à \d\d:00$/)
    store.dispose()
  })

  test('a message of an earlier year shows its year, in the conversation list and in the thread ("24 nov. 2020")', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
    window.history.replaceState(null, '', '#/messages/c1')
    const old = message(1, { createdAt: '2020-11-24T08:30:00.000Z' })
    const oldThread = apiRoutes((_method, path, request) => {
      if (path === '/api/conversations') return json(200, [conversation('c1', { lastMessage: old })])
      if (path === '/api/conversations/c1/messages') return json(200, [old])
      return api(request)
    })
    const { store } = appStore(oldThread)
    renderApp(page.root, store)
    const shown = (selector: string) => page.container.querySelector(selector)?.textContent?.replace(/\s/g, ' ')
    await eventually(() => expect(shown('.conv-time')).toMatch(/^24 nov\. 2020, \d\d:30$/))
    await eventually(() => expect(shown('[data-testid=message] time')).toMatch(/^24 nov\. 2020, \d\d:30$/))
    store.dispose()
  })

  test('error.INVALID is grammatical French ("Ce n’a pas été accepté" is not)', () => {
    expect(fr['error.INVALID']).not.toMatch(/^Ce n’a pas/)
  })
})

describe('narrow screens (≤ 480 px, e.g. 360 px)', () => {
  test('a message too long to send says why: the "too long" text is not display:none', async () => {
    const { store } = await openThread()
    // The stylesheet as a 360 px screen applies it (jsdom evaluates no media query): the base rules, then the inside of
    // the (max-width: 720px) and (max-width: 480px) blocks, in their order.
    const css = readFileSync('src/styles.css', 'utf8')
    const narrow: string[] = []
    let base = ''
    let at = 0
    for (const match of css.matchAll(/@media[^{]*\{/g)) {
      let depth = 1
      let end = match.index + match[0].length
      while (depth > 0 && end < css.length) (depth += css[end] === '{' ? 1 : css[end] === '}' ? -1 : 0), end++
      base += css.slice(at, match.index)
      if (/max-width:\s*(480|720)px/.test(match[0])) narrow.push(css.slice(match.index + match[0].length, end - 1))
      at = end
    }
    base += css.slice(at)
    const style = document.createElement('style')
    style.dataset.rv = ''
    style.textContent = `${base}\n${narrow.join('\n')}`
    document.head.append(style)
    const composer = page.container.querySelector<HTMLTextAreaElement>('.composer textarea')!
    type(composer, 'x'.repeat(MAX_CONTENT_LENGTH + 1))
    const send = page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!
    expect(send.disabled).toBe(true)
    const why = [...page.container.querySelectorAll<HTMLElement>('.composer p')].find((p) =>
      p.textContent?.includes('too long'),
    )!
    expect(why).toBeDefined()
    expect(getComputedStyle(why).display).not.toBe('none')
    store.dispose()
  })
})

describe('keyboard focus in the conversation list', () => {
  test('a message in another conversation does not move the focused conversation in the DOM (a move blurs it in browsers)', async () => {
    window.history.replaceState(null, '', '#/messages')
    const list = [
      conversation('c1', { lastMessage: message(1, { conversationId: 'c1', createdAt: '2026-11-24T10:00:00.000Z' }) }),
      conversation('c2', { lastMessage: message(1, { conversationId: 'c2', createdAt: '2026-11-24T09:00:00.000Z' }) }),
      conversation('c3', { lastMessage: message(1, { conversationId: 'c3', createdAt: '2026-11-24T08:00:00.000Z' }) }),
    ]
    const fetchFn = apiRoutes((_method, path) => {
      if (path === '/api/conversations') return json(200, list)
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    const { store, sockets } = appStore(fetchFn)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const order = () =>
      [...page.container.querySelectorAll('[data-testid=conversation]')].map((a) =>
        a.getAttribute('data-conversation-id'),
      )
    await eventually(() => expect(order()).toEqual(['c1', 'c2', 'c3']))
    // The keyboard user has tabbed to the second conversation.
    const link = page.container.querySelector<HTMLAnchorElement>('[data-conversation-id=c2]')!
    const item = link.closest('li')!
    // Browsers run the focus fixup when a focused node is removed, also when insertBefore/appendChild moves it; jsdom
    // does not, so record the moves of the focused conversation.
    const movedWhileFocused: string[] = []
    const observer = new MutationObserver((records) => {
      for (const r of records) for (const n of r.removedNodes) if (n === item) movedWhileFocused.push('c2 moved')
    })
    observer.observe(item.parentElement!, { childList: true })
    act(() => link.focus())
    // Bob writes in the third one: it has news (its count), and the focused one stays where it is.
    act(() =>
      sockets.last.serverEmit(
        'message:new',
        message(2, { conversationId: 'c3', createdAt: '2026-11-24T11:00:00.000Z', content: 'news' }),
      ),
    )
    await eventually(() =>
      expect(page.container.querySelector('[data-conversation-id=c3] [data-testid=unread-count]')).not.toBeNull(),
    )
    observer.disconnect()
    expect(movedWhileFocused).toEqual([])
    expect(document.activeElement).toBe(link)
    // Once focus has left the list, the most recent conversation comes first.
    act(() => page.container.querySelector<HTMLElement>('h1')!.focus())
    await eventually(() => expect(order()).toEqual(['c3', 'c1', 'c2']))
    store.dispose()
  })
})
