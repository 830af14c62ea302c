// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import type { ContactRequest, Lesson } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// Two people change one lesson at the same moment: Alice cancels it as Bob confirms it. The server refuses Bob's
// change (INVALID: no longer pending); Bob must see what the lesson is now, not be told to check what he entered.

const page = pagePerTest('#/lessons')

/** Bob's app on `hash`, its API `fetchFn`, once the card `testId` is drawn: its store, and the card. */
async function bobsCard(fetchFn: typeof fetch, hash: string, testId: string) {
  window.history.replaceState(null, '', hash)
  const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: bob } } })
  renderApp(page.root, store)
  const card = () => page.container.querySelector(`[data-testid=${testId}]`)!
  await eventually(() => expect(card()).not.toBeNull())
  return { store, card }
}

/** A card whose status the other side changed first, from `before` to `now` (read again from `list`). */
interface Conflict {
  name: string
  hash: string
  testId: string
  /** The button the user presses on the card. */
  press: string
  list: string
  before: Lesson | ContactRequest
  now: Lesson | ContactRequest
  /** The note that says why the user's change did not happen. */
  why: string
}

describe('a status change refused because the other person changed it first', () => {
  // Review: the note was only drawn (no live region, focus on the card, whose name is its title), so a screen reader
  // heard the new status and never why the user's own change did not happen; and while the reread ran, the refusal
  // was an alert telling the user to check what they entered.
  test.each<Conflict>([
    {
      name: 'a lesson',
      hash: '#/lessons',
      testId: 'lesson',
      press: 'Confirm',
      // Alice's cancel landed first.
      list: '/api/lessons',
      before: lesson('l1'),
      now: lesson('l1', { status: 'cancelled', updatedAt: '2026-11-24T09:00:00.000Z' }),
      why: 'Not changed: this lesson had been changed meanwhile; it is shown as it is now.',
    },
    {
      name: 'a request',
      hash: '#/contact-requests',
      testId: 'contact-request',
      press: 'Accept',
      // Bob declined it on his phone (another device) first.
      list: '/api/contact-requests',
      before: contactRequest('r1'),
      now: contactRequest('r1', { status: 'declined', updatedAt: '2026-11-24T09:00:00.000Z' }),
      why: 'Not changed: this request had been answered meanwhile; it is shown as it is now.',
    },
  ])(
    '$name: the card shows the status it has now and says why; a screen reader hears why, once; no error blames what was entered',
    async ({ hash, testId, press, list, before, now, why }) => {
      let current = before
      let answerReread: () => void = () => {}
      const reread = new Promise<void>((resolve) => {
        answerReread = resolve
      })
      let refused = false
      let rereadAsked = false
      const fetchFn = apiRoutes(async (method, path) => {
        if (method === 'PATCH') {
          current = now
          refused = true
          return json(400, { error: { code: 'INVALID', message: 'no such step' } })
        }
        if (path === list) {
          // The reread takes a moment: whatever the page draws before it comes is seen.
          if (refused) {
            rereadAsked = true
            await reread
          }
          return json(200, [current])
        }
        if (path === '/api/users') return json(200, [alice, bob])
        return json(200, [])
      })
      const { store, card } = await bobsCard(fetchFn, hash, testId)
      const polite = politeSaid()
      const alerts: string[] = []
      new MutationObserver(() => {
        for (const a of page.container.querySelectorAll('[role=alert]')) if (a.textContent) alerts.push(a.textContent)
      }).observe(page.container, { childList: true, subtree: true, characterData: true })
      act(() => [...card().querySelectorAll('button')].find((b) => b.textContent === press)!.click())
      // The in-between state: refused, the reread asked and not yet answered, and what React does meanwhile drawn.
      await eventually(() => expect(rereadAsked).toBe(true))
      await act(async () => {})
      answerReread()
      // No socket event tells Bob (his socket may be down): the page reads the card again, and shows it as it is now…
      await eventually(() =>
        expect(card().querySelector(`[data-testid=${testId}-status]`)!.textContent).toBe(now.status),
      )
      expect(card().textContent).not.toMatch(/Check what you entered/)
      // …and why his change did not happen.
      expect(card().querySelector('[data-testid=changed-meanwhile]')?.textContent).toBe(why)
      await eventually(() => expect(polite.filter((s) => s === why)).toHaveLength(1))
      expect(alerts.filter((a) => /Check what you entered/.test(a))).toEqual([])
      store.dispose()
    },
  )
})

describe('a status change refused because it was made already (the answer to the user’s own earlier try was lost)', () => {
  // Bob confirmed; the server made it but its answer never came (the network dropped, his socket down too, so no event
  // either). He presses Confirm again: the server refuses (INVALID: already confirmed). The card said "Not changed:
  // this lesson had been changed meanwhile", blaming someone else for his own change.
  test.each([
    {
      name: 'a lesson confirmed',
      hash: '#/lessons',
      testId: 'lesson',
      press: 'Confirm',
      list: '/api/lessons',
      before: lesson('l1') as Lesson | ContactRequest,
      now: lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' }) as Lesson | ContactRequest,
    },
    {
      name: 'a request accepted',
      hash: '#/contact-requests',
      testId: 'contact-request',
      press: 'Accept',
      list: '/api/contact-requests',
      before: contactRequest('r1'),
      now: contactRequest('r1', { status: 'accepted', updatedAt: '2026-11-24T09:00:00.000Z' }),
    },
  ])('$name: the card shows it done, with no note and no error', async ({ hash, testId, press, list, before, now }) => {
    let current = before
    let patched = false
    const fetchFn = apiRoutes(async (method, path) => {
      if (method === 'PATCH') {
        patched = true
        return json(400, {
          error: { code: 'INVALID', message: `status: cannot go from ${now.status} to ${now.status}` },
        })
      }
      if (path === list) return json(200, [current])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    const { store, card } = await bobsCard(fetchFn, hash, testId)
    // Made at the server by the try whose answer was lost.
    current = now
    act(() => [...card().querySelectorAll('button')].find((b) => b.textContent === press)!.click())
    await eventually(() => expect(patched).toBe(true))
    await eventually(() => expect(card().querySelector(`[data-testid=${testId}-status]`)!.textContent).toBe(now.status))
    await act(async () => {})
    expect(card().querySelector('[data-testid=changed-meanwhile]')).toBeNull()
    expect(card().querySelector('[role=alert]')?.textContent ?? '').toBe('')
    store.dispose()
  })
})

describe('a status change refused INVALID whose reread fails (the connection dropped meanwhile)', () => {
  // Nobody can tell then why it was refused: the card said "That was not accepted. Check what you entered.", though
  // the user entered nothing (they pressed a button). It says the change was not made, and the card could not be read.
  test.each([
    {
      name: 'a lesson',
      hash: '#/lessons',
      testId: 'lesson',
      press: 'Confirm',
      list: '/api/lessons',
      before: lesson('l1') as Lesson | ContactRequest,
      said: 'Not changed: this lesson had already changed, and it could not be read again to show it as it is now. Try again in a moment.',
    },
    {
      name: 'a request',
      hash: '#/contact-requests',
      testId: 'contact-request',
      press: 'Accept',
      list: '/api/contact-requests',
      before: contactRequest('r1'),
      said: 'Not changed: this request had already been answered, and it could not be read again to show it as it is now. Try again in a moment.',
    },
  ])(
    '$name: the card says the change was not made and why nothing more is known',
    async ({ hash, testId, press, list, before, said }) => {
      let refused = false
      let rereads = 0
      const fetchFn = apiRoutes(async (method, path) => {
        if (method === 'PATCH') {
          refused = true
          return json(400, { error: { code: 'INVALID', message: 'status: cannot go from declined to accepted' } })
        }
        if (path === list) {
          if (!refused) return json(200, [before])
          rereads++
          throw new TypeError('Failed to fetch')
        }
        if (path === '/api/users') return json(200, [alice, bob])
        return json(200, [])
      })
      const { store, card } = await bobsCard(fetchFn, hash, testId)
      act(() => [...card().querySelectorAll('button')].find((b) => b.textContent === press)!.click())
      await eventually(() => expect(card().querySelector('[role=alert]')?.textContent).toBe(said))
      expect(rereads).toBeGreaterThan(0)
      expect(card().querySelector(`[data-testid=${testId}-status]`)!.textContent).toBe(before.status)
      store.dispose()
    },
  )
})
