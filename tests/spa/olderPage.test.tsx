// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { eventually } from './support/eventually'
import { bob, message } from '../unit/support/fixtures'
import { appStore, bobsThreadApi, json, pageEndingAt, pagePerTest, renderApp } from './support/page'

// An older page ("Load earlier") that lands after the thread was read again no longer ends where the thread starts:
// merged, the messages between them would be missing, and nothing could load them. It is asked for again instead.

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const _fromBob = (seq: number) => message(seq, { senderId: bob.id })

const page = pagePerTest('#/messages/c1')

/** The message ids the thread shows, top to bottom. */
const shown = () =>
  [...page.container.querySelectorAll('[data-testid=message]')].map((el) => el.getAttribute('data-message-id'))

/** The app on c1 with `fetchFn` for its API, connected and synced, once it shows the thread's latest 50. */
async function latestPageShown(fetchFn: typeof fetch) {
  const { store, sockets } = appStore(fetchFn, { realtime: { invalidationWindowMs: 0 } })
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  await eventually(() => expect(shown()).toHaveLength(50))
  return { store, sockets }
}

describe('load earlier racing a refetch of the thread', () => {
  test('no message is missing between the older page and the refetched thread', async () => {
    let latest = 100
    let answerOlder: ((r: Response) => void) | null = null
    let holdLatest = false
    let answerLatest: (() => void) | null = null
    const fetchFn = bobsThreadApi((before) => {
      if (before !== null) {
        // The older page is slow to come.
        return new Promise<Response>((resolve) => {
          answerOlder = () => resolve(pageEndingAt(before - 1))
        })
      }
      // The latest 50.
      if (!holdLatest) return pageEndingAt(latest)
      return new Promise<Response>((resolve) => {
        answerLatest = () => resolve(pageEndingAt(latest))
      })
    })
    const { store, sockets } = await latestPageShown(fetchFn)
    expect(shown()[0]).toBe('m51')

    // The connection comes back with a gap (or a seq gap is seen): the thread is read again. Sixty messages have come
    // meanwhile, so the server's latest 50 now start at 111, above what the thread holds (what it holds cannot be kept
    // below them: 101..110 would be missing); the answer is on its way.
    latest = 160
    holdLatest = true
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => expect(answerLatest).not.toBeNull())

    // While it is on its way the reader asks for earlier messages: before seq 51, the first one shown.
    const button = [...page.container.querySelectorAll<HTMLButtonElement>('.load-earlier button')][0]!
    act(() => button.click())
    await eventually(() => expect(answerOlder).not.toBeNull())

    // The thread's answer lands first (111..160)…
    await act(async () => answerLatest!())
    await eventually(() => expect(shown()[0]).toBe('m111'))

    // …then the older page (1..50): it no longer ends where the thread starts (111), so it is asked for again from there.
    const first = answerOlder!
    answerOlder = null
    await act(async () => first(undefined as never))
    await eventually(() => expect(answerOlder).not.toBeNull())
    await act(async () => answerOlder!(undefined as never))
    await eventually(() => expect(shown()[0]).toBe('m61'))
    const seqs = api.endpoints.getMessages
      .select('c1')(store.getState())
      .data!.map((m) => m.seq)
    expect(seqs).toEqual(range(61, 160))
    // And the rest can still be loaded.
    expect(page.container.querySelector('.load-earlier button')).not.toBeNull()
    store.dispose()
  })
})

describe('earlier messages loaded, then the thread read again', () => {
  test('a reconnect that reads the thread again keeps the earlier messages the reader loaded above it', async () => {
    let latest = 100
    const fetchFn = bobsThreadApi((before) => pageEndingAt(before === null ? latest : before - 1))
    const { store, sockets } = await latestPageShown(fetchFn)
    // The reader loads the earlier messages and reads them.
    act(() => page.container.querySelector<HTMLButtonElement>('.load-earlier button')!.click())
    await eventually(() => expect(shown()).toHaveLength(100))
    expect(page.container.querySelector('.load-earlier')).toBeNull()

    // The connection drops and comes back with a gap: Bob wrote once meanwhile, and the thread is read again.
    act(() => sockets.last.serverDrop())
    latest = 101
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => expect(shown()).toContain('m101'))
    // What the reader was reading is still there, with nothing missing.
    expect(shown()).toEqual(range(1, 101).map((seq) => `m${seq}`))
    expect(page.container.querySelector('.load-earlier')).toBeNull()
    store.dispose()
  })
})

describe('an empty earlier page (the messages below were gone: a database reset)', () => {
  test('hides "Load earlier" only while the thread starts where it was asked from', async () => {
    let latest = 100
    let emptyBelow = true
    const fetchFn = bobsThreadApi((before) =>
      before === null ? pageEndingAt(latest) : emptyBelow ? json(200, []) : pageEndingAt(before - 1),
    )
    const { store, sockets } = await latestPageShown(fetchFn)
    const button = () => page.container.querySelector<HTMLButtonElement>('.load-earlier button')
    act(() => button()!.click())
    await eventually(() => expect(button()).toBeNull())

    // The thread is read again (a gap) and now starts elsewhere: what lies below it is another question.
    emptyBelow = false
    latest = 200
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => expect(shown()[0]).toBe('m151'))
    expect(button()).not.toBeNull()
    act(() => button()!.click())
    await eventually(() => expect(shown()[0]).toBe('m101'))
    store.dispose()
  })
})

describe('an earlier page that failed for want of the server', () => {
  test('its "Could not reach the server" goes once the connection is back, and the page comes at the next press', async () => {
    let reachable = true
    const fetchFn = bobsThreadApi((before) => {
      if (before !== null && !reachable) throw new TypeError('Failed to fetch')
      return pageEndingAt(before === null ? 100 : before - 1)
    })
    const { store, sockets } = await latestPageShown(fetchFn)
    const alert = () => page.container.querySelector('.load-earlier [role=alert]')

    // The connection drops; the reader asks for earlier messages, and the server cannot be reached.
    act(() => sockets.last.serverDrop())
    reachable = false
    act(() => page.container.querySelector<HTMLButtonElement>('.load-earlier button')!.click())
    await eventually(() => expect(alert()?.textContent).toMatch(/reach the server/))

    // The connection is back (the header says "online"): the words saying the server cannot be reached are wrong now.
    reachable = true
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(alert()).toBeNull())
    act(() => page.container.querySelector<HTMLButtonElement>('.load-earlier button')!.click())
    await eventually(() => expect(shown()).toHaveLength(100))
    store.dispose()
  })
})
