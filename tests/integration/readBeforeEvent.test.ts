import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import type { Message } from '../../src/contract'
import { selectConnection, sendMessage } from '../../src/realtime'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'

// A thread read again whose answer the server made before a message was stored, but which reaches the store only
// after the socket put that message in the thread: merged as it stands (`keepEarlier`), the answer would take the
// message out of view until the next read. The layer patches the event at once and applies it again once the read
// lands (cacheHandler's `parked`), so no state the page is told of lacks it.

const file = serverPerFile()

const caughtUp = (s: BrowserStore) => {
  const connection = selectConnection(s.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

describe("a thread's read answered before a message was stored, landing after the socket brought it", () => {
  test('the message stays in the thread, in every state subscribers are told of, and once', async () => {
    let conversationId = ''
    let holding = false
    let answered: ((body: Message[]) => void) | null = null
    const heldAnswer = new Promise<Message[]>((resolve) => (answered = resolve))
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => (release = resolve))
    // Bob's latest page of the thread, read while holding: the server answers in full, the store gets it on release.
    const fetchFn: typeof fetch = async (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init)
      const url = new URL(request.url)
      if (
        !holding ||
        request.method !== 'GET' ||
        url.pathname !== `/api/conversations/${conversationId}/messages` ||
        url.searchParams.has('before')
      )
        return fetch(request)
      holding = false
      const response = await fetch(request)
      const body = await response.text()
      answered!(JSON.parse(body) as Message[])
      await released
      // The body as read (decoded): its length and encoding are no longer the server's.
      const headers = new Headers(response.headers)
      headers.delete('content-length')
      headers.delete('content-encoding')
      return new Response(body, { status: response.status, statusText: response.statusText, headers })
    }
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = file.track(browserStore(file.server.url, { fetchFn }))
    conversationId = await conversationBetween(alice, await bob.login('bob@talemy.test'))
    await alice.openThread(conversationId)
    await bob.until(() => caughtUp(alice) && caughtUp(bob))

    const first = alice.store.dispatch(sendMessage({ conversationId, content: 'before the read' })).payload
    await alice.until(() =>
      alice.thread(conversationId).some((m) => m.clientId === first.clientId && m.status === 'sent'),
    )
    const read = bob.store.dispatch(api.endpoints.getMessages.initiate(conversationId))
    await read
    expect(bob.thread(conversationId).some((m) => m.clientId === first.clientId)).toBe(true)

    holding = true
    const again = read.refetch()
    const answer = await heldAnswer
    const during = alice.store.dispatch(sendMessage({ conversationId, content: 'during the read' })).payload
    // The held answer was made before this message was stored.
    expect(answer.some((m) => m.clientId === during.clientId)).toBe(false)
    expect(answer.some((m) => m.clientId === first.clientId)).toBe(true)
    const shows = () => bob.thread(conversationId).filter((m) => m.clientId === during.clientId).length
    await bob.until(() => shows() === 1)

    const told: number[] = []
    let landed: () => void = () => {}
    const toldAfterLanding = new Promise<void>((resolve) => (landed = resolve))
    const unwatch = bob.store.subscribe(() => {
      told.push(shows())
      const entry = api.endpoints.getMessages.select(conversationId)(bob.store.getState())
      if (entry.requestId === again.requestId && entry.status === 'fulfilled') landed()
    })
    release()
    await again
    await toldAfterLanding
    unwatch()

    // How many copies of the message each notified state showed: one, from the socket's patch to the read's landing.
    expect(told.length).toBeGreaterThan(0)
    expect(told).toEqual(told.map(() => 1))
    const seqs = bob.thread(conversationId).map((m) => m.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(bob.thread(conversationId).at(-1)).toMatchObject({ clientId: during.clientId, content: 'during the read' })
    read.unsubscribe()
  })
})
