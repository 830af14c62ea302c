// @vitest-environment jsdom
import type { Middleware } from '@reduxjs/toolkit'
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import type { ContactRequest, Lesson, User } from '../../src/contract'
import { createToaster, OWN_CHANGE_WAIT_MS } from '../../src/features/notifications/toaster'
import { manualTimers } from '../unit/tabs/support/tabBus'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  heldPatchApi,
  json,
  messagesPageWithToasts,
  pagePerTest,
  pressToChange,
  renderApp,
} from './support/page'

// A user changes a card's status and goes to another page before the server's event for it arrives: a toast telling
// them of their own change would be news of nothing. The other person's change, on another page, is a toast as ever.

const page = pagePerTest()

const later = '2026-11-24T09:00:00.000Z'

interface OwnChange {
  name: string
  me: User
  hash: string
  card: string
  press: string
  list: string
  before: Lesson | ContactRequest
  after: Lesson | ContactRequest
  event: () => ReturnType<(typeof serverEventActions)['lesson:statusUpdated' | 'contactRequest:statusUpdated']>
}

const l1 = lesson('l1')
const r1 = contactRequest('r1')
/** `me` presses `press` on lesson l1, which the server answers with `status`. */
const lessonChange = (name: string, me: User, press: string, status: Lesson['status']): OwnChange => {
  const after: Lesson = { ...l1, status, updatedAt: later }
  return {
    name,
    me,
    hash: '#/lessons',
    card: 'lesson',
    press,
    list: '/api/lessons',
    before: l1,
    after,
    event: () => serverEventActions['lesson:statusUpdated'](after),
  }
}
const changes: OwnChange[] = [
  lessonChange('the tutor confirms a lesson', bob, 'Confirm', 'confirmed'),
  lessonChange('the student cancels a lesson', alice, 'Cancel lesson', 'cancelled'),
  lessonChange('the tutor cancels a lesson', bob, 'Cancel lesson', 'cancelled'),
  {
    name: 'the tutor accepts a contact request',
    me: bob,
    hash: '#/contact-requests',
    card: 'contact-request',
    press: 'Accept',
    list: '/api/contact-requests',
    before: r1,
    after: { ...r1, status: 'accepted', updatedAt: later },
    event: () => serverEventActions['contactRequest:statusUpdated']({ ...r1, status: 'accepted', updatedAt: later }),
  },
]

/** `me` on `c.hash`, with the app's toaster; the PATCH is answered only when `answer()` is called. */
/** The user leaves the page for Messages: what the lessons page no longer shows is told in a toast. */
async function goToMessages() {
  act(() => page.container.querySelector<HTMLAnchorElement>('[data-testid=nav-messages]')!.click())
  await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
}

/** The lesson's Cancel pressed once its card shows, its request gone (`patched`), then the user leaves for Messages. */
async function cancelThenLeave(patched: () => boolean) {
  await eventually(() => expect(page.container.querySelector('[data-testid=lesson]')).not.toBeNull())
  pressToChange(page.container.querySelector('[data-testid=lesson]')!, 'Cancel lesson')
  await eventually(() => expect(patched()).toBe(true))
  await goToMessages()
}

async function openAs(c: OwnChange) {
  const { fetchFn, release: answer, patched } = heldPatchApi(c.list, [c.before], c.after)
  window.history.replaceState(null, '', c.hash)
  const toaster = createToaster()
  const { store } = appStore(fetchFn, {
    preloadedState: { auth: { token: 'token-1', user: c.me } },
    extraMiddleware: [toaster.middleware],
  })
  renderApp(page.root, store, toaster)
  const card = () => page.container.querySelector(`[data-testid=${c.card}]`)
  await eventually(() => expect(card()).not.toBeNull())
  const press = async () => {
    pressToChange(card()!, c.press)
    await eventually(() => expect(patched()).toBe(true))
  }
  return { store, toaster, press, leave: goToMessages, answer }
}

describe('no toast for the user’s own status change, wherever they are when its event comes', () => {
  test.each(changes)('$name, then leaves before the answer and the event', async (c) => {
    const { store, toaster, press, leave, answer } = await openAs(c)
    await press()
    await leave()
    act(() => void store.dispatch(c.event()))
    expect(toaster.getSnapshot()).toEqual([])
    await act(async () => answer())
    await act(async () => {})
    expect(toaster.getSnapshot()).toEqual([])
    expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(0)
    store.dispose()
  })

  test.each(changes)('$name, has the answer, then leaves before the event', async (c) => {
    const { store, toaster, press, leave, answer } = await openAs(c)
    await press()
    await act(async () => answer())
    await eventually(() =>
      expect(page.container.querySelector(`[data-testid=${c.card}-status]`)?.textContent).toBe(c.after.status),
    )
    await leave()
    act(() => void store.dispatch(c.event()))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })
})

describe('a change asked for whose answer never came, or that was refused', () => {
  /** Alice on the lessons page, whose cancel of l1 is answered by `patch`; then she goes to the messages page. */
  async function aliceCancels(patch: () => Promise<Response>, { connectedFirst = false } = {}) {
    const timers = manualTimers()
    let patched = false
    const fetchFn = apiRoutes(async (method, path) => {
      if (method === 'PATCH') {
        patched = true
        return patch()
      }
      if (path === '/api/lessons') return json(200, [l1])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', '#/lessons')
    const toaster = createToaster({ timers })
    const { store, sockets } = appStore(fetchFn, { extraMiddleware: [toaster.middleware] })
    renderApp(page.root, store, toaster)
    if (connectedFirst) {
      act(() => sockets.last.serverConnect())
      act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
    }
    await eventually(() => expect(page.container.querySelector('[data-testid=lesson]')).not.toBeNull())
    pressToChange(page.container.querySelector('[data-testid=lesson]')!, 'Cancel lesson')
    await eventually(() => expect(patched).toBe(true))
    // The answer (or the failure) is in: the page shows why.
    await eventually(() =>
      expect(page.container.querySelector('[data-testid=lesson] [role=alert]')?.textContent).toBeTruthy(),
    )
    act(() => page.container.querySelector<HTMLAnchorElement>('[data-testid=nav-messages]')!.click())
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    return { store, toaster, sockets, timers }
  }
  const cancelled = () => serverEventActions['lesson:statusUpdated']({ ...l1, status: 'cancelled', updatedAt: later })

  test('no answer (the connection dropped after the server made it): its event is still her own, no toast', async () => {
    const { store, toaster } = await aliceCancels(() => Promise.reject(new TypeError('Failed to fetch')))
    act(() => void store.dispatch(cancelled()))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  // Back online, the server replays what was missed, then says it has caught up: her change, had it been made, would
  // have come before that. The same change coming later is the tutor's.
  test.each([
    { name: 'caught up', sync: 'sync:caughtUp' },
    { name: 'a gap (the cards are read again)', sync: 'sync:gap' },
  ])(
    'no answer, then the socket is back and $name: the tutor’s cancellation that comes later is news, a toast',
    async ({ sync }) => {
      const { store, toaster, sockets } = await aliceCancels(() => Promise.reject(new TypeError('Failed to fetch')))
      act(() => sockets.last.serverConnect())
      act(() => sockets.last.serverEmit(sync, { offset: 0, epoch: 'e1' }))
      act(() => void store.dispatch(cancelled()))
      expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.lessonStatus'])
      store.dispose()
    },
  )

  test('no answer, then the socket is back: her change replayed before it caught up is still her own, no toast', async () => {
    const { store, toaster, sockets } = await aliceCancels(() => Promise.reject(new TypeError('Failed to fetch')))
    act(() => sockets.last.serverConnect())
    act(() => void store.dispatch(cancelled()))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  // Connected all along: had the server made her change, its event would have come live, long before the wait ends.
  test('no answer with the socket connected all along: the tutor’s cancellation after the wait is news, a toast', async () => {
    const { store, toaster, timers } = await aliceCancels(() => Promise.reject(new TypeError('Failed to fetch')), {
      connectedFirst: true,
    })
    act(() => timers.advance(OWN_CHANGE_WAIT_MS))
    act(() => void store.dispatch(cancelled()))
    expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.lessonStatus'])
    store.dispose()
  })

  test('no answer while offline: the wait ending changes nothing, her change replayed when back is her own', async () => {
    const { store, toaster, sockets, timers } = await aliceCancels(() =>
      Promise.reject(new TypeError('Failed to fetch')),
    )
    act(() => timers.advance(OWN_CHANGE_WAIT_MS))
    act(() => sockets.last.serverConnect())
    act(() => void store.dispatch(cancelled()))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  test('refused (not made): the tutor’s cancellation that comes later is news, a toast', async () => {
    const { store, toaster } = await aliceCancels(async () =>
      json(429, { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1000 } }),
    )
    act(() => void store.dispatch(cancelled()))
    expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.lessonStatus'])
    store.dispose()
  })

  // A proxy or firewall in front of the server refuses with a page of its own, not JSON (RTK Query's PARSING_ERROR, the
  // status in `originalStatus`): a 4xx all the same, the change not made. Taken for one that may have been, the
  // tutor's cancellation a moment later was taken for Alice's own, and she was never told of it.
  test.each([
    { status: 413, page: '<html><body><h1>413 Request Entity Too Large</h1></body></html>' },
    { status: 403, page: '<html><body><h1>403 Forbidden</h1></body></html>' },
  ])(
    'refused by a proxy with an HTML $status (not made): the tutor’s cancellation that comes later is news, a toast',
    async ({ status, page: body }) => {
      const { store, toaster } = await aliceCancels(
        async () => new Response(body, { status, headers: { 'content-type': 'text/html' } }),
      )
      act(() => void store.dispatch(cancelled()))
      expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.lessonStatus'])
      store.dispose()
    },
  )
})

describe('a change only the user’s side may make, made in another tab or on another device', () => {
  test.each([
    {
      name: 'the tutor’s confirmation',
      event: serverEventActions['lesson:statusUpdated']({ ...l1, status: 'confirmed', updatedAt: later }),
    },
    {
      name: 'the tutor’s completion',
      event: serverEventActions['lesson:statusUpdated']({ ...l1, status: 'completed', updatedAt: later }),
    },
    {
      name: 'the tutor’s answer to a request',
      event: serverEventActions['contactRequest:statusUpdated']({ ...r1, status: 'declined', updatedAt: later }),
    },
  ])('$name is no toast for the tutor', async ({ event }) => {
    const { store, toaster } = await messagesPageWithToasts(page, bob)
    act(() => void store.dispatch(event))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })
})

describe('the other person’s change is still a toast on another page', () => {
  test.each([
    {
      name: 'the tutor cancels: the student hears of it',
      me: alice,
      event: serverEventActions['lesson:statusUpdated']({ ...l1, status: 'cancelled', updatedAt: later }),
      id: 'toast.lessonStatus',
    },
    {
      name: 'the student cancels: the tutor hears of it',
      me: bob,
      event: serverEventActions['lesson:statusUpdated']({ ...l1, status: 'cancelled', updatedAt: later }),
      id: 'toast.lessonStatus',
    },
    {
      name: 'the tutor confirms: the student hears of it',
      me: alice,
      event: serverEventActions['lesson:statusUpdated']({ ...l1, status: 'confirmed', updatedAt: later }),
      id: 'toast.lessonStatus',
    },
    {
      name: 'the tutor declines a request: the student hears of it',
      me: alice,
      event: serverEventActions['contactRequest:statusUpdated']({ ...r1, status: 'declined', updatedAt: later }),
      id: 'requests.statusSaid',
    },
  ])('$name', async ({ me, event, id }) => {
    const { store, toaster } = await messagesPageWithToasts(page, me)
    act(() => void store.dispatch(event))
    expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual([id])
    store.dispose()
  })
})

describe('the other person’s change comes while the user’s own is on its way, and theirs is then refused', () => {
  // Both cancel at once; the tutor's is made first. Its event reaches Alice, gone to another page, before her answer:
  // taken for her own then, it is not, as the refusal (the transition no longer allowed) shows. Said nowhere else (the
  // card is on the page she left), it is a toast once the refusal comes.
  test('the tutor’s cancellation is a toast once her own cancel is refused', async () => {
    const {
      fetchFn,
      release: answer,
      patched,
    } = heldPatchApi(
      '/api/lessons',
      [l1],
      { error: { code: 'INVALID', message: 'status: cannot go from cancelled to cancelled' } },
      400,
    )
    window.history.replaceState(null, '', '#/lessons')
    const toaster = createToaster()
    const { store } = appStore(fetchFn, {
      preloadedState: { auth: { token: 'token-1', user: alice } },
      extraMiddleware: [toaster.middleware],
    })
    renderApp(page.root, store, toaster)
    await cancelThenLeave(patched)

    act(
      () =>
        void store.dispatch(
          serverEventActions['lesson:statusUpdated']({ ...l1, status: 'cancelled', updatedAt: later }),
        ),
    )
    expect(toaster.getSnapshot()).toEqual([])
    await act(async () => answer())
    await eventually(() => expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.lessonStatus']))
    store.dispose()
  })
})

describe('a change answered with a server error, which may have been made all the same', () => {
  // A 5xx is no refusal (`isRefusalStatus`): the commit's answer lost on the way to the database, a gateway's timeout
  // with an empty or JSON body. The server may have made the change, and then its event is the user's own doing.
  test.each([
    { name: 'her event comes before the answer', eventFirst: true },
    { name: 'her event comes after the answer', eventFirst: false },
  ])('Alice’s cancel answered 500, $name: no toast', async ({ eventFirst }) => {
    const internal = { error: { code: 'INTERNAL', message: 'internal server error' } }
    const { fetchFn, release: answer, patched } = heldPatchApi('/api/lessons', [l1], internal, 500)
    window.history.replaceState(null, '', '#/lessons')
    const toaster = createToaster()
    let refused = false
    const watch: Middleware = () => (next) => (action) => {
      if (api.endpoints.updateLessonStatus.matchRejected(action)) refused = true
      return next(action)
    }
    const { store } = appStore(fetchFn, {
      preloadedState: { auth: { token: 'token-1', user: alice } },
      extraMiddleware: [watch, toaster.middleware],
    })
    renderApp(page.root, store, toaster)
    await cancelThenLeave(patched)
    const cancelled = serverEventActions['lesson:statusUpdated']({ ...l1, status: 'cancelled', updatedAt: later })
    if (eventFirst) act(() => void store.dispatch(cancelled))
    await act(async () => answer())
    // The refusal has passed the toaster (it runs after `watch`): whatever it tells is told.
    await eventually(() => expect(refused).toBe(true))
    if (!eventFirst) act(() => void store.dispatch(cancelled))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })
})
