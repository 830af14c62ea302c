import type { Locator, Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { Conversation, Message } from '../../src/contract'
import {
  aliceAndCarolWithForty,
  apiCall,
  e2ePerFile,
  gotoConversation,
  loginAs,
  messagesWithText,
  unique,
} from './support/app'
import { hangBound } from '../support/hangBound'

// Joining a thread's room tells the server the reader is looking at it: it marks read what is there, and the other
// person sees "Seen". The thread took being within 120 px of its end for looking: a one-line message that came while
// the reader was up the thread, still just below the view as they scrolled down towards it, was marked read unseen;
// and each scroll across that line sent a join or a leave (each join a write and a "Seen" to the other person).

/** A `conversation:join` or `conversation:leave` the page sent, with what the reader saw as it went. */
interface RoomWord {
  word: 'join' | 'leave'
  /** The thread's newest message was whole in the view. */
  newestInView: boolean
  /** The list was scrolled to its end. */
  atEnd: boolean
}

/**
 * An init script: notes each room join and leave the page sends on its WebSocket (in `window.__roomWords`), with
 * where the thread stood at that moment. It runs in the page, so it must not reference anything outside itself.
 */
function recordRoomWords() {
  const words: RoomWord[] = []
  ;(window as unknown as { __roomWords: RoomWord[] }).__roomWords = words
  const send = WebSocket.prototype.send
  WebSocket.prototype.send = function (this: WebSocket, data) {
    const found = typeof data === 'string' ? /^42\d*\["conversation:(join|leave)"/.exec(data) : null
    if (found) {
      const list = document.querySelector<HTMLElement>('[data-testid="message-list"]')
      const newest = list?.querySelectorAll('[data-testid="message"]')
      const last = newest?.[newest.length - 1]
      const view = list?.getBoundingClientRect()
      const box = last?.getBoundingClientRect()
      words.push({
        word: found[1] as RoomWord['word'],
        newestInView: !!view && !!box && box.top >= view.top - 1 && box.bottom <= view.bottom + 1,
        atEnd: !!list && list.scrollHeight - list.clientHeight - list.scrollTop < 2,
      })
    }
    return send.call(this, data)
  }
}

const roomWords = (page: Page) => page.evaluate(() => (window as unknown as { __roomWords: RoomWord[] }).__roomWords)

/** Where a test scrolls the list: this far from its end, its top, or where its newest message starts below the view. */
type Place = { fromEnd: number } | 'top' | 'newest just below'

/**
 * The reader scrolls `list` to `place`; resolves once the page has heard the scroll event and drawn two frames since,
 * so that what the scroll changes (a render, its effects, a join or a leave sent) has happened before the next step.
 */
function scrollTo(list: Locator, place: Place) {
  return list.evaluate(
    (el, to) =>
      new Promise<void>((resolve) => {
        el.addEventListener('scroll', () => requestAnimationFrame(() => requestAnimationFrame(() => resolve())), {
          once: true,
        })
        const items = el.querySelectorAll('[data-testid="message"]')
        const newest = items[items.length - 1]!
        // The newest message's top in the list's content, put at the view's foot.
        const below = newest.getBoundingClientRect().top - el.getBoundingClientRect().top - el.clientTop + el.scrollTop
        const before = el.scrollTop
        if (to === 'top') el.scrollTop = 0
        else if (to === 'newest just below') el.scrollTop = below - el.clientHeight
        else el.scrollTop = el.scrollHeight - el.clientHeight - to.fromEnd
        // Already there: no scroll event comes.
        if (el.scrollTop === before) throw new Error(`the list was already at ${before}`)
      }),
    place,
  )
}

describe('the thread counts as seen only what is in view', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  /** Alice's conversation with Carol, 40 messages, open on Alice's page at its newest, joins and leaves recorded. */
  async function aliceReadingForty(word: string) {
    const { a, c, conversation } = await aliceAndCarolWithForty(e2e, word)
    const alice = await loginAs(e2e, 'alice', { initScript: recordRoomWords })
    try {
      await gotoConversation(alice.page, conversation.id)
      await messagesWithText(alice.page, `${word} 40`).waitFor({ timeout: hangBound() })
      // Open at its newest: the room is joined.
      await alice.page.waitForFunction(
        () => (window as unknown as { __roomWords: RoomWord[] }).__roomWords.some((w) => w.word === 'join'),
        undefined,
        { timeout: hangBound() },
      )
    } catch (error) {
      await alice.context.close()
      throw error
    }
    return { a, c, conversation, alice, list: alice.page.getByTestId('message-list') }
  }

  /** Waits until the page's last room word after the first `from` is a join. */
  const joinedAfter = (page: Page, from: number) =>
    page.waitForFunction(
      (n) => (window as unknown as { __roomWords: RoomWord[] }).__roomWords.slice(n).at(-1)?.word === 'join',
      from,
      { timeout: hangBound() },
    )

  it('does not mark read a short message just below the view, until it is scrolled into view', async () => {
    const { a, c, conversation, alice, list } = await aliceReadingForty('Before')
    const { page } = alice
    try {
      await scrollTo(list, 'top')
      const text = unique('Ok')
      const sent = await apiCall<Message>(e2e, c.token, 'POST', `/api/conversations/${conversation.id}/messages`, {
        content: text,
        clientId: crypto.randomUUID(),
      })
      /** How far Alice has read, as Carol's conversation list says (her "Seen"). */
      const aliceRead = async () =>
        (await apiCall<Conversation[]>(e2e, c.token, 'GET', '/api/conversations')).find(
          (x) => x.id === conversation.id,
        )!.readSeq[a.user.id] ?? 0
      await messagesWithText(page, text).waitFor({ timeout: hangBound() })
      await page.getByTestId('new-below').waitFor({ timeout: hangBound() })
      const from = (await roomWords(page)).length

      // Down to where Carol's message starts just below the view's foot: the reader has not seen it yet.
      await scrollTo(list, 'newest just below')
      const place = await list.evaluate((el) => {
        const items = el.querySelectorAll('[data-testid="message"]')
        return {
          fromEnd: el.scrollHeight - el.clientHeight - el.scrollTop,
          hidden: items[items.length - 1]!.getBoundingClientRect().top >= el.getBoundingClientRect().bottom - 1,
        }
      })
      expect(place.hidden, `the message is out of view (${place.fromEnd} px from the end)`).toBe(true)
      const buttonThere = await page.getByTestId('new-below').count()
      const readThere = await aliceRead()

      // Now in view.
      await scrollTo(list, { fromEnd: 0 })
      await joinedAfter(page, from)
      // One join, once the message was in view; none while it was just below.
      expect((await roomWords(page)).slice(from), `${place.fromEnd} px from the end`).toEqual([
        { word: 'join', newestInView: true, atEnd: true },
      ])
      // Unseen there: not read, and the button that takes the reader to it stayed.
      expect(readThere).toBeLessThan(sent.seq)
      expect(buttonThere).toBe(1)
      // And read, now: the join's mark.
      await expect.poll(aliceRead, { timeout: hangBound() }).toBe(sent.seq)
    } finally {
      await alice.context.close()
    }
  })

  it('does not join and leave again and again as the reader scrolls a little up and down near the end', async () => {
    const { alice, list } = await aliceReadingForty('Around')
    const { page } = alice
    try {
      const from = (await roomWords(page)).length
      for (const fromEnd of [150, 100, 150, 100, 150, 100, 0]) await scrollTo(list, { fromEnd })
      await joinedAfter(page, from)
      // Up the thread once (left), then back at its end (joined): nothing in between.
      expect((await roomWords(page)).slice(from).map((w) => w.word)).toEqual(['leave', 'join'])
      expect((await roomWords(page)).at(-1)).toEqual({ word: 'join', newestInView: true, atEnd: true })
    } finally {
      await alice.context.close()
    }
  })
})
