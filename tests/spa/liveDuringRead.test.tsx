// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { eventually } from './support/eventually'
import { bob, message } from '../unit/support/fixtures'
import { appStore, bobsThreadApi, json, pageEndingAt, pagePerTest, renderApp } from './support/page'

// More than a page of messages comes live while the thread is read again: the read answers the latest 50 as the server
// had them when it read, which may hold none, some or all of them. Merged as it stands, the answer would drop those it
// lacks from the thread, above its last message, where "Load earlier" never looks. Each event that came during the
// read is applied again once it lands (cacheHandler's `parked`), and the read keeps what it joins (`keepEarlier`).

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const fromBob = (seq: number) => message(seq, { senderId: bob.id })

const page = pagePerTest('#/messages/c1')

const shownSeqs = () =>
  [...page.container.querySelectorAll('[data-testid=message]')].map((el) =>
    Number(el.getAttribute('data-message-id')!.slice(1)),
  )

/** Presses "Load earlier" until it is gone (a few pages at most), then checks the thread runs from 1 to `last`. */
async function loadEarlierDownToTheFirst(last: number) {
  for (let i = 0; i < 5 && page.container.querySelector('.load-earlier button'); i++) {
    const before = shownSeqs()[0]
    act(() => page.container.querySelector<HTMLButtonElement>('.load-earlier button')!.click())
    await eventually(() => expect(shownSeqs()[0]).toBeLessThan(before!))
  }
  expect(shownSeqs()).toEqual(range(1, last))
}

describe('more than a page of messages coming live while the thread is read again', () => {
  // When the server read the latest 50: before any of the 60 came, after 20 of them, after all of them.
  test.each([0, 20, 60])('read after %i of them: no hole, and "Load earlier" reaches the first', async (readAt) => {
    let stored = 100
    let asOfRead = 100
    let answerLatest: (() => void) | null = null
    let holdLatest = false
    const fetchFn = bobsThreadApi((before) => {
      if (before !== null) return pageEndingAt(before - 1)
      if (!holdLatest) return pageEndingAt(stored)
      return new Promise<Response>((resolve) => {
        answerLatest = () => resolve(pageEndingAt(asOfRead))
      })
    })
    const { store, sockets } = appStore(fetchFn, { realtime: { invalidationWindowMs: 0 } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(shownSeqs()).toEqual(range(51, 100)))

    // The connection comes back with a gap (nothing was missed, as it happens): the thread is read again, slowly.
    holdLatest = true
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => expect(answerLatest).not.toBeNull())

    // Bob writes 60 while the read is on its way; each comes live. The server reads its latest 50 at `readAt`.
    for (let i = 1; i <= 60; i++) {
      stored = 100 + i
      if (i === readAt) asOfRead = stored
      act(() => sockets.last.serverEmit('message:new', fromBob(stored), { offset: 5 + i }))
    }
    await eventually(() => expect(shownSeqs().at(-1)).toBe(160))
    await act(async () => answerLatest!())

    // Every message from the thread's first to Bob's last, once each…
    await eventually(() => expect(shownSeqs()).toEqual(range(shownSeqs()[0]!, 160)))
    const thread = api.endpoints.getMessages.select('c1')(store.getState()).data!
    expect(thread.map((m) => m.seq)).toEqual(range(thread[0]!.seq, 160))
    // …and "Load earlier" brings the rest, down to the first.
    await loadEarlierDownToTheFirst(160)
    store.dispose()
  })
})

describe('the re-read fails while messages come live', () => {
  test('the thread is read again while connected, and ends with no hole', async () => {
    let stored = 100
    let failNext = false
    let failed = 0
    const fetchFn = bobsThreadApi((before) => {
      if (before !== null) return pageEndingAt(before - 1)
      // The catch-up's read fails (the server's database hiccuped).
      if (failNext) {
        failNext = false
        failed++
        return json(503, { error: { code: 'INTERNAL', message: 'try later' } })
      }
      return pageEndingAt(stored)
    })
    // No jitter in the layer's backoff: the read is made again at once.
    const { store, sockets } = appStore(fetchFn, { realtime: { invalidationWindowMs: 0, random: () => 0 } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(shownSeqs()).toEqual(range(51, 100)))

    // Bob writes 60 while the socket is away; they come back as a gap, and the catch-up's read fails.
    stored = 160
    failNext = true
    act(() => sockets.last.serverEmit('sync:gap', { offset: 65, epoch: 'e1' }))
    for (let i = 155; i <= 160; i++) act(() => sockets.last.serverEmit('message:new', fromBob(i), { offset: 65 + i }))
    await eventually(() => expect(failed).toBe(1))

    // Read again: the latest page, joined to nothing held, replaces the thread; "Load earlier" reaches the first.
    await eventually(() => expect(shownSeqs()).toEqual(range(111, 160)))
    await loadEarlierDownToTheFirst(160)
    store.dispose()
  })
})
