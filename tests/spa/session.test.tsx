// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test, vi } from 'vitest'
import { loggedIn, loggedOut, saveRefreshToken, tokenRefreshed } from '../../src/api'
import { PageBoundary } from '../../src/app/PageBoundary'
import { forgetRouteWithUser, navigate } from '../../src/app/router'
import { createMemoryStorage } from '../../src/app/store'
import type { User } from '../../src/contract'
import { I18nProvider, LOCALE_STORAGE_KEY } from '../../src/i18n'
import { outboxStorageKey, selectConnection, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  fieldLabelled,
  json,
  pagePerTest,
  renderApp,
  saidIn,
  tutorChosen,
  type,
} from './support/page'

// The page once the session is over, after a logout, and when something cannot be drawn.

/** An API whose session is over: lists load empty, everything else (the refresh too) is refused. */
const endedSession = apiRoutes((method, path) => {
  if (method === 'GET') return json(200, [])
  if (path === '/api/auth/logout') return new Response(null, { status: 204 })
  return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
})

/** A component that throws while drawing as long as `fragile.broken`. */
const fragile = { broken: true }
function Fragile() {
  if (fragile.broken) throw new Error('cannot draw')
  return <p>drawn</p>
}

const page = pagePerTest()
const button = (name: string) =>
  [...page.container.querySelectorAll('button')].find((candidate) => candidate.textContent === name)

/** Alice's page on the API of a session that is over, with her refresh token stored and her old token in the store. */
function endedSessionPage() {
  const storage = createMemoryStorage()
  saveRefreshToken(storage, alice.id, 'refresh-old')
  const app = appStore(endedSession, { storage, preloadedState: { auth: { token: 'old', user: alice } } })
  renderApp(page.root, app.store)
  return { ...app, storage }
}

describe('the session is over', () => {
  test('"Log in again" keeps the unsent messages for that user’s next login, without asking to discard them', async () => {
    const { storage, store, sockets } = endedSessionPage()
    act(() => void store.dispatch(sendMessage({ conversationId: 'c1', content: 'kept for later', clientId: 'k1' })))
    act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    const asked: string[] = []
    const confirmBefore = window.confirm
    window.confirm = (text?: string) => {
      asked.push(String(text))
      return true
    }
    try {
      act(() => button('Log in again')!.click())
    } finally {
      window.confirm = confirmBefore
    }
    expect(asked).toEqual([])
    expect(store.getState().auth.user).toBeNull()
    const stored = JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]') as { clientId: string }[]
    expect(stored.map((m) => m.clientId)).toEqual(['k1'])
    store.dispose()
  })
})

/** An API whose session is over until a login (as `who`), and Alice's conversation `c1` with Bob. */
const endedSessionThenLogin = (who: User) =>
  apiRoutes((method, path) => {
    if (method === 'POST' && path === '/api/auth/login')
      return json(200, { token: `token-${who.id}`, refreshToken: `refresh-${who.id}`, user: who })
    if (path === '/api/conversations') return json(200, [conversation('c1')])
    if (path === '/api/users') return json(200, [alice, bob])
    if (method === 'GET') return json(200, [])
    return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
  })

/**
 * Alice's page open at `hash`, her session refused (unauthorized), with the route kept and forgotten as `main.tsx`
 * has it; `who` is whom the next login answers for.
 */
async function sessionEndsAt(hash: string, who: User, storage = createMemoryStorage()) {
  window.history.replaceState(null, '', hash)
  saveRefreshToken(storage, alice.id, 'refresh-old')
  const app = appStore(endedSessionThenLogin(who), { storage, preloadedState: { auth: { token: 'old', user: alice } } })
  const stopForgetting = forgetRouteWithUser(app.store)
  renderApp(page.root, app.store)
  act(() => app.sockets.last.serverRefuse('UNAUTHORIZED'))
  await eventually(() => expect(button('Log in again')).toBeDefined())
  return { ...app, stopForgetting, storage }
}

/** Logs in from the login page (what the next login answers is the API's choice). */
async function logInFromLoginPage(email: string) {
  const emailField = await eventually(() => fieldLabelled(page.container, 'Email') as HTMLInputElement)
  type(emailField, email)
  type(fieldLabelled(page.container, 'Password') as HTMLInputElement, 'talemy')
  act(() => button('Log in')!.click())
}

const openThread = () => page.container.querySelector('[data-testid=thread]')?.getAttribute('data-conversation-id')

describe('"Log in again" brings the user back where they were', () => {
  test('on a conversation when the session ended: logging in again opens that conversation, composer focused', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/messages/c1', alice)
    expect(openThread()).toBe('c1')
    act(() => button('Log in again')!.click())
    // The login page shows no route (nor the conversation's id) meanwhile.
    expect(store.getState().auth.user).toBeNull()
    expect(window.location.hash).toBe('')
    await logInFromLoginPage('alice@talemy.test')
    await eventually(() => expect(openThread()).toBe('c1'))
    expect(window.location.hash).toBe('#/messages/c1')
    await eventually(() => expect(document.activeElement).toBe(page.container.querySelector('[data-testid=composer]')))
    stopForgetting()
    store.dispose()
  })

  test('another user logging in at that login page starts on their own messages page, not on that conversation', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/messages/c1', bob)
    act(() => button('Log in again')!.click())
    await logInFromLoginPage('bob@talemy.test')
    await eventually(() => expect(store.getState().auth.user?.id).toBe(bob.id))
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    expect(openThread()).toBeUndefined()
    expect(window.location.hash).toBe('')
    // Nor later: what was kept for Alice went with Bob's login.
    expect(window.history.state).toBeNull()
    stopForgetting()
    store.dispose()
  })

  // Review: the draft lived in the layout, which a logout unmounts, so "Log in again" brought the user back to the
  // conversation with its composer empty: the half-written message was gone with the session that ended under it.
  const composer = () => page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
  test('with the draft they were writing there', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/messages/c1', alice)
    type(await eventually(() => composer()!), 'half written when it ended')
    act(() => button('Log in again')!.click())
    await logInFromLoginPage('alice@talemy.test')
    await eventually(() => expect(composer()?.value).toBe('half written when it ended'))
    stopForgetting()
    store.dispose()
  })

  test('but not the draft for another user logging in at that login page', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/messages/c1', bob)
    type(await eventually(() => composer()!), 'not for Bob')
    act(() => button('Log in again')!.click())
    await logInFromLoginPage('bob@talemy.test')
    await eventually(() => expect(store.getState().auth.user?.id).toBe(bob.id))
    act(() => navigate({ page: 'messages', conversationId: 'c1' }))
    await eventually(() => expect(composer()?.value).toBe(''))
    stopForgetting()
    store.dispose()
  })

  test('what the history entry holds is only ever read back as an in-app route of this page (no way out)', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/lessons', alice)
    const origin = window.location.origin
    act(() => button('Log in again')!.click())
    // Something else on the page wrote the entry meanwhile: a URL of another site where the route was.
    window.history.replaceState(
      { 'talemy:routeForNextLogin': { userId: alice.id, href: 'https://evil.example/phish' } },
      '',
    )
    await logInFromLoginPage('alice@talemy.test')
    await eventually(() => expect(store.getState().auth.user?.id).toBe(alice.id))
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    expect(window.location.origin).toBe(origin)
    expect(window.location.hash).toBe('#/messages')
    stopForgetting()
    store.dispose()
  })
})

// Review D: a press on the booking or contact-request form once the session was over said to log in again, and
// "Log in again" brought the user back to that page with the form empty: the tutor, the date and time, the duration,
// the subject or the message they had just written were gone with the session that ended under them.
describe('"Log in again" keeps what the student typed in a form, as it keeps a message’s draft', () => {
  const carol: User = { id: 'u-carol', name: 'Carol', role: 'student' }
  const field = (label: string) => fieldLabelled(page.container, label) as HTMLInputElement
  const choose = (label: string, value: string) =>
    act(() => {
      const select = fieldLabelled(page.container, label, HTMLSelectElement)
      select.value = value
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
  /** The form's tutors read (its first option is its "Choose a tutor…" prompt). */
  const tutorsRead = () =>
    eventually(() => expect(fieldLabelled(page.container, 'Tutor', HTMLSelectElement).options.length).toBe(2))
  const goTo = async (route: 'lessons' | 'contactRequests') => {
    act(() => navigate({ page: route }))
    const heading = route === 'lessons' ? 'Lessons' : 'Contact requests'
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe(heading))
  }
  const sessionOverSaid = 'Your session has ended. Log in again.'
  const pressed = async (name: string) => {
    act(() => button(name)!.click())
    await eventually(() => expect(page.container.querySelector('main [role=alert]')?.textContent).toBe(sessionOverSaid))
  }

  /** The booking form filled in, and booked once: refused, the session being over. */
  async function bookingTried() {
    await tutorChosen(page.container, bob.id)
    type(field('Subject'), 'Subjunctive, again')
    type(field('Date and time'), '2031-03-04T16:30')
    choose('Duration', '90')
    await pressed('Book lesson')
  }
  const booking = () => ({
    tutor: field('Tutor').value,
    subject: field('Subject').value,
    when: field('Date and time').value,
    duration: field('Duration').value,
  })

  /** The contact-request form filled in, and sent once: refused, the session being over. */
  async function requestTried() {
    await tutorChosen(page.container, bob.id)
    type(fieldLabelled(page.container, 'Message', HTMLTextAreaElement), 'Could we start in March?')
    await pressed('Send request')
  }
  const request = () => ({ tutor: field('Tutor').value, message: field('Message').value })

  /** Both forms as a new visit draws them: nothing of what was typed before the login. */
  async function bothFormsAfresh() {
    await goTo('lessons')
    await tutorsRead()
    expect(booking()).toMatchObject({ tutor: '', subject: '', duration: '60' })
    expect(booking().when).not.toBe('2031-03-04T16:30')
    await goTo('contactRequests')
    await tutorsRead()
    expect(request()).toEqual({ tutor: '', message: '' })
  }

  test('the booking form: tutor, date and time, duration and subject, once the same user is back', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/lessons', alice)
    await bookingTried()
    act(() => button('Log in again')!.click())
    await logInFromLoginPage('alice@talemy.test')
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Lessons'))
    await tutorsRead()
    expect(booking()).toEqual({
      tutor: bob.id,
      subject: 'Subjunctive, again',
      when: '2031-03-04T16:30',
      duration: '90',
    })
    stopForgetting()
    store.dispose()
  })

  test('the contact-request form: tutor and message, once the same user is back', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/contact-requests', alice)
    await requestTried()
    act(() => button('Log in again')!.click())
    await logInFromLoginPage('alice@talemy.test')
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Contact requests'))
    await tutorsRead()
    expect(request()).toEqual({ tutor: bob.id, message: 'Could we start in March?' })
    stopForgetting()
    store.dispose()
  })

  test('not for another student logging in at that login page', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/lessons', carol)
    await bookingTried()
    await goTo('contactRequests')
    await requestTried()
    act(() => button('Log in again')!.click())
    await logInFromLoginPage('carol@talemy.test')
    await eventually(() => expect(store.getState().auth.user?.id).toBe(carol.id))
    await bothFormsAfresh()
    stopForgetting()
    store.dispose()
  })

  test('not after "Log out" (it leaves nothing of the user’s behind)', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/contact-requests', alice)
    await requestTried()
    await goTo('lessons')
    await bookingTried()
    act(() => button('Log out')!.click())
    await logInFromLoginPage('alice@talemy.test')
    await eventually(() => expect(store.getState().auth.user?.id).toBe(alice.id))
    await bothFormsAfresh()
    stopForgetting()
    store.dispose()
  })
})

// Review F: two tabs of Alice's, both "session expired" (one session for the browser). She clicks "Log in again" in the
// other tab, which logs this one out too (sessionSync follows the stored session's removal), then logs in there, which
// this tab follows. This tab was on its own conversation with a half-written message: it came back on the list, the
// message gone, although she chose nothing in this tab.
describe('"Log in again" in another tab brings this tab back where it was too', () => {
  const composer = () => page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
  test('its conversation and its draft, once the same user is back (heard from the other tab)', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/messages/c1', alice)
    type(await eventually(() => composer()!), 'half written in this tab')
    // What sessionSync dispatches when the other tab's "Log in again" removes the stored session, then its login.
    act(() => void store.dispatch(loggedOut({ keepOutbox: true })))
    expect(window.location.hash).toBe('')
    act(() => void store.dispatch(loggedIn({ token: 'token-again', user: alice })))
    await eventually(() => expect(openThread()).toBe('c1'))
    expect(window.location.hash).toBe('#/messages/c1')
    await eventually(() => expect(composer()?.value).toBe('half written in this tab'))
    stopForgetting()
    store.dispose()
  })

  test('not after her "Log out" there (it leaves nothing of hers behind)', async () => {
    const { store, stopForgetting, storage } = await sessionEndsAt('#/messages/c1', alice)
    type(await eventually(() => composer()!), 'dropped with the logout')
    // The other tab's "Log out" marks her sends dropped in the shared storage before it removes the stored session.
    const other = appStore(endedSessionThenLogin(alice), {
      storage,
      preloadedState: { auth: { token: 'old', user: alice } },
    })
    other.store.dispatch(loggedOut())
    other.store.dispose()
    act(() => void store.dispatch(loggedOut({ keepOutbox: true })))
    act(() => void store.dispatch(loggedIn({ token: 'token-again', user: alice })))
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    expect(openThread()).toBeUndefined()
    act(() => navigate({ page: 'messages', conversationId: 'c1' }))
    await eventually(() => expect(composer()).not.toBeNull())
    expect(composer()?.value).toBe('')
    stopForgetting()
    store.dispose()
  })

  test('not for another user’s login there (heard as this tab’s logout, then that login)', async () => {
    const { store, stopForgetting } = await sessionEndsAt('#/messages/c1', alice)
    type(await eventually(() => composer()!), 'not for Bob')
    act(() => {
      store.dispatch(loggedOut({ keepOutbox: true }))
      store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    })
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    expect(window.history.state).toBeNull()
    act(() => void store.dispatch(loggedOut()))
    act(() => void store.dispatch(loggedIn({ token: 'token-again', user: alice })))
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    expect(openThread()).toBeUndefined()
    stopForgetting()
    store.dispose()
  })

  test('also when this tab had not shown the session over yet (still live to it as that logout came)', async () => {
    window.history.replaceState(null, '', '#/messages/c1')
    const app = appStore(endedSessionThenLogin(alice))
    const stopForgetting = forgetRouteWithUser(app.store)
    renderApp(page.root, app.store)
    act(() => app.sockets.last.serverConnect())
    await eventually(() => expect(composer()).not.toBeNull())
    type(composer()!, 'kept though it had not heard')
    // Only a "Log in again" (the session over, in every tab) removes the stored session without the "Log out" mark.
    act(() => void app.store.dispatch(loggedOut({ keepOutbox: true })))
    act(() => void app.store.dispatch(loggedIn({ token: 'token-again', user: alice })))
    await eventually(() => expect(openThread()).toBe('c1'))
    expect(window.location.hash).toBe('#/messages/c1')
    await eventually(() => expect(composer()?.value).toBe('kept though it had not heard'))
    stopForgetting()
    app.store.dispose()
  })
})

describe('a tab whose session expired, brought back by another tab’s login of the same user', () => {
  test.each([
    ['en', 'Your session expired. Log in again.', 'online', 'Connection back: online.'],
    ['fr', 'Votre session a expiré. Reconnectez-vous.', 'en ligne', 'Connexion rétablie\u202f: en ligne.'],
  ] as const)(
    '(%s) says the connection is back once online, not only that the session expired',
    async (locale, expired, online, back) => {
      localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      try {
        const { store, sockets } = endedSessionPage()
        const said = saidIn('[data-testid^=announcer-]')
        act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
        await eventually(() => expect(said).toEqual([expired]))
        // The same user logs in in another tab: sessionSync hands this tab the new token (unauthorized → connecting).
        act(() => void store.dispatch(tokenRefreshed({ token: 'new' })))
        await eventually(() => expect(sockets.sockets.length).toBeGreaterThan(1))
        act(() => sockets.last.serverConnect('sock-2'))
        act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
        const badge = () => page.container.querySelector('[data-testid=connection-badge]')
        await eventually(() => expect(badge()?.getAttribute('data-status')).toBe('connected'))
        expect(badge()?.querySelector('.badge-text')?.textContent).toBe(online)
        await eventually(() => expect(said).toEqual([expired, back]))
        store.dispose()
      } finally {
        localStorage.removeItem(LOCALE_STORAGE_KEY)
      }
    },
  )
})

describe('logging out with unsent messages', () => {
  test('asks about those another tab of the user left in storage too (a logout clears them for every tab)', async () => {
    const storage = createMemoryStorage()
    const quiet = (async () => json(200, [])) as unknown as typeof fetch
    const { store } = appStore(quiet, { storage })
    renderApp(page.root, store)
    // Another tab of Alice's, opened meanwhile: its message is unsent (no answer yet), and stored for every tab.
    const other = appStore(quiet, { storage })
    act(
      () =>
        void other.store.dispatch(sendMessage({ conversationId: 'c1', content: 'from the other tab', clientId: 'k9' })),
    )
    expect(JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]')).toHaveLength(1)
    expect(store.getState().socket.outbox).toEqual([])
    const asked: string[] = []
    const confirmBefore = window.confirm
    window.confirm = (text?: string) => {
      asked.push(String(text))
      return false
    }
    try {
      act(() => button('Log out')!.click())
    } finally {
      window.confirm = confirmBefore
    }
    expect(asked).toEqual([expect.stringContaining('1')])
    // Not confirmed: still logged in, the message still stored.
    expect(store.getState().auth.user).toEqual(alice)
    expect(JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]')).toHaveLength(1)
    store.dispose()
    other.store.dispose()
  })
})

describe('after a logout, and when something cannot be drawn', () => {
  test('the page title keeps no count of the last user’s unread messages once they have logged out', async () => {
    const withUnread = apiRoutes((method, path) => {
      if (path === '/api/conversations') return json(200, [conversation('c1', { unreadCount: 3 })])
      if (method === 'GET') return json(200, [])
      return new Response(null, { status: 204 })
    })
    const { store } = appStore(withUnread)
    renderApp(page.root, store)
    await eventually(() => expect(document.title).toBe('(3) Messages · Talemy'))
    act(() => button('Log out')!.click())
    expect(store.getState().auth.user).toBeNull()
    expect(document.title).toBe('Log in · Talemy')
    store.dispose()
  })

  test('an answer of an unexpected shape is an error the page shows, and the rest of the app still works', async () => {
    window.history.replaceState(null, '', '#/lessons')
    const oddLessons = apiRoutes((_method, path) =>
      path === '/api/lessons' ? json(200, { not: 'a list' }) : json(200, []),
    )
    const { store } = appStore(oddLessons)
    renderApp(page.root, store)
    await eventually(() =>
      expect(page.container.querySelector('main [role=alert]')?.textContent).toContain('The server ran into a problem'),
    )
    // The frame is still there: the user can go elsewhere, or log out.
    expect([...page.container.querySelectorAll('nav a')].map((a) => a.textContent)).toContain('Messages')
    act(() => button('Log out')!.click())
    expect(store.getState().auth.user).toBeNull()
    store.dispose()
  })

  test('a page that throws while drawing leaves a message and a way to try again, not a blank app', () => {
    fragile.broken = true
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      act(() =>
        page.root.render(
          <I18nProvider>
            <nav>still here</nav>
            <PageBoundary>
              <Fragile />
            </PageBoundary>
          </I18nProvider>,
        ),
      )
      expect(page.container.querySelector('[role=alert]')?.textContent).toContain('This page could not be shown.')
      expect(page.container.querySelector('nav')?.textContent).toBe('still here')
      fragile.broken = false
      act(() => button('Try again')!.click())
      expect(page.container.textContent).toContain('drawn')
      expect(page.container.querySelector('[role=alert]')).toBeNull()
    } finally {
      consoleError.mockRestore()
    }
  })
})
