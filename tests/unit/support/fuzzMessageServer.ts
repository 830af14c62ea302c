import { afterEach, beforeEach, expect, vi } from 'vitest'
import type { Message } from '../../../src/contract'
import { alice } from './fixtures'

/** An HTTP send held until the fuzz model answers it (or fails it: the tab went, the network dropped it). */
export interface HeldPost {
  /** The tab whose `fetch` made it (a closing tab's requests go with it). */
  tab: string
  clientId: string
  conversationId: string
  answer: (response: Response) => void
  fail: () => void
}

/**
 * Alice's messages as the fuzzers' server stores them: one per `clientId` (a repeat answers the stored one), `seq` per
 * conversation (`nextSeq`, shared with whoever else writes there), in the order stored; `stored(m)` runs once per new
 * message.
 *
 * @example const { storeMessage, nextSeq } = messageStore((m) => emitLogged('message:sent', m))
 */
export function messageStore(stored: (m: Message) => void) {
  const byClientId = new Map<string, Message>()
  const storedOrder: Message[] = []
  const seqOf = new Map<string, number>()
  const nextSeq = (conversationId: string) => {
    const seq = (seqOf.get(conversationId) ?? 0) + 1
    seqOf.set(conversationId, seq)
    return seq
  }
  const storeMessage = (clientId: string, conversationId: string): Message => {
    const known = byClientId.get(clientId)
    if (known) return known
    const seq = nextSeq(conversationId)
    const m: Message = {
      id: `m-${conversationId}-${seq}`,
      conversationId,
      seq,
      senderId: alice.id,
      content: `text ${clientId}`,
      createdAt: new Date().toISOString(),
      clientId,
    }
    byClientId.set(clientId, m)
    storedOrder.push(m)
    stored(m)
    return m
  }
  return { storedOrder, nextSeq, storeMessage }
}

/**
 * The server side of the outbox fuzzers (`outboxTabsFuzz`, `tabs/sharedOutboxFuzz`): one message per `clientId` (a
 * repeat answers the stored one), `seq` per conversation, in the order stored; and an HTTP `fetch` per tab whose POSTs
 * of a message are held (`posts`) for the model to answer or fail, each in any order. `stored(m)` runs once per new
 * message (the fuzzer sends its `message:sent` to the sockets its own way); `otherRequest` answers anything else.
 */
export function fuzzMessageServer(options: {
  log: string[]
  stored: (m: Message) => void
  otherRequest: () => Response
}) {
  const { storedOrder, storeMessage } = messageStore(options.stored)
  const posts: HeldPost[] = []

  const fetchOf = (tab: string) =>
    (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      const match = /^\/api\/conversations\/([^/]+)\/messages$/.exec(new URL(request.url).pathname)
      if (!match || request.method !== 'POST') return options.otherRequest()
      const { clientId } = (await request.json()) as { clientId: string }
      options.log.push(`  http post ${clientId}`)
      return new Promise<Response>((resolve, reject) => {
        const post: HeldPost = {
          tab,
          clientId,
          conversationId: match[1]!,
          answer: (r) => {
            posts.splice(posts.indexOf(post), 1)
            resolve(r)
          },
          fail: () => {
            posts.splice(posts.indexOf(post), 1)
            reject(new TypeError('fetch failed'))
          },
        }
        posts.push(post)
        request.signal.addEventListener('abort', () => posts.includes(post) && post.fail())
      })
    }) as typeof fetch

  return { storedOrder, posts, storeMessage, fetchOf }
}

/**
 * What every outbox fuzz run ends with: each message written stored, nothing stored that was not written, and in each
 * conversation in the order written. (Stored twice cannot happen here: the model answers a repeated `clientId` with
 * the message it stored, as the server does; a send sent twice shows as one stored out of its order instead.)
 * `context()` tells the run's story when it fails.
 */
export function expectStoredAsWritten(
  written: readonly { clientId: string; conversationId: string }[],
  storedOrder: readonly Message[],
  conversations: readonly string[],
  context: () => string,
): void {
  const ids = written.map((w) => w.clientId)
  expect(
    storedOrder.map((m) => m.clientId),
    context(),
  ).toEqual(expect.arrayContaining(ids))
  expect(storedOrder.length, context()).toBe(ids.length)
  for (const c of conversations)
    expect(
      storedOrder.filter((m) => m.conversationId === c).map((m) => m.clientId),
      `${c}\n${context()}`,
    ).toEqual(written.filter((w) => w.conversationId === c).map((w) => w.clientId))
}

/** The fuzzers' clock: vitest's fake timers and `Date`, from the same instant in every run (a seed replays alike). */
export function withFuzzClock(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    vi.setSystemTime(Date.UTC(2026, 0, 1, 12))
  })
  afterEach(() => {
    vi.useRealTimers()
  })
}

/** A few task turns (never timers): whatever the last step set going (a fetch, its answer, the cache work) has landed. */
export async function turns(n = 12): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
