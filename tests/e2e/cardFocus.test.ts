import type { Locator, Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  blockSockets,
  e2ePerFile,
  holdRequests,
  loginAs,
  unique,
  waitNotOnline,
  waitOnline,
  type HeldRequests,
} from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * A keyboard user who presses a card's button (Confirm, Complete, Cancel on a lesson; Accept, Decline on a contact
 * request) keeps a place on the page when the server refuses the change because the other side changed it first.
 * The button used to be `disabled` while its request ran; Chromium blurs a focused control that becomes disabled, so
 * focus was on `<body>` before the refusal came back, and the card's focus keeping (which looks for focus inside the
 * button that goes) had nothing to keep (WCAG 2.4.3).
 *
 * The refusal is made sure: this page's socket is cut (HTTP still works) before the other side's change, so the page
 * has not seen it when the button is pressed; and the page's request is held until the button shows it is busy, so
 * the busy state is drawn whatever the machine's speed.
 */

/** Where focus is: inside `card` (the card or one of its buttons), or on what. */
async function focusIn(page: Page, card: Locator): Promise<string> {
  const inside = await card.evaluate((el) => el.contains(document.activeElement))
  if (inside) return 'card'
  return page.evaluate(() => document.activeElement?.tagName.toLowerCase() ?? 'nothing')
}

/**
 * Enter on `button`, and again once `card` shows it busy (its request held by `held`), focus still in the card; then
 * lets the request go.
 */
async function pressTwiceWhileBusy(page: Page, card: Locator, button: Locator, held: HeldRequests): Promise<void> {
  await button.focus()
  await page.keyboard.press('Enter')
  // Busy while the request runs: focus stays on the button, and a second Enter sends nothing more.
  await card.locator('button[aria-disabled="true"], button:disabled').first().waitFor({ timeout: hangBound() })
  expect(await focusIn(page, card)).toBe('card')
  await page.keyboard.press('Enter')
  held.release()
}

describe('a card whose change the server refuses keeps keyboard focus', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it('Bob confirms a lesson Alice has just cancelled, and accepts a request he declined on another device', async () => {
    const alice = await apiLogin(e2e, 'alice')
    const bobApi = await apiLogin(e2e, 'bob')
    const subject = unique('Refused')
    const startsAt = new Date(Date.now() + 3 * 24 * 3600_000).toISOString()
    const lesson = await apiCall<{ id: string }>(e2e, alice.token, 'POST', '/api/lessons', {
      tutorId: bobApi.user.id,
      subject,
      startsAt,
      durationMinutes: 60,
    })
    const text = unique('Refused')
    const request = await apiCall<{ id: string }>(e2e, alice.token, 'POST', '/api/contact-requests', {
      tutorId: bobApi.user.id,
      message: text,
    })

    const { context, page } = await loginAs(e2e, 'bob')
    try {
      // --- The lesson card ---
      await page.getByTestId('nav-lessons').click()
      const card = page.locator(`[data-testid="lesson"][data-lesson-id="${lesson.id}"]`)
      const confirm = card.getByRole('button', { name: 'Confirm' })
      await confirm.waitFor({ timeout: hangBound() })
      // The PATCH, and the list's reads, held from before the other side's change: a read already on its way then (the
      // session's catch-up read after its first sync comes late on a busy machine) cannot show the change before the
      // button is pressed.
      const lessonPatches = await holdRequests(page, [
        ['PATCH', /^\/api\/lessons\//],
        ['GET', /^\/api\/lessons$/],
      ])
      // This page hears nothing from now on; Alice cancels over HTTP.
      blockSockets(e2e, bobApi.user.id, 10 * 60_000)
      await waitNotOnline(page)
      const cancelled = await apiCall<{ status: string; updatedAt: string }>(
        e2e,
        alice.token,
        'PATCH',
        `/api/lessons/${lesson.id}`,
        { status: 'cancelled' },
      )
      expect(await card.getByTestId('lesson-status').textContent()).toBe('pending')

      await pressTwiceWhileBusy(page, card, confirm, lessonPatches)
      // The refusal reads the lessons again: the card shows Alice's cancellation, its buttons gone.
      await card.getByTestId('lesson-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: hangBound() })
      await card.locator('button').first().waitFor({ state: 'detached', timeout: hangBound() })
      expect(await focusIn(page, card)).toBe('card')
      expect(lessonPatches.seen).toEqual([JSON.stringify({ status: 'confirmed' })])
      // One change at the server: Alice's.
      const lessons = await apiCall<{ id: string; status: string; updatedAt: string }[]>(
        e2e,
        alice.token,
        'GET',
        '/api/lessons',
      )
      const now = lessons.find((l) => l.id === lesson.id)
      expect(now).toMatchObject({ status: 'cancelled', updatedAt: cancelled.updatedAt })

      // --- The contact-request card ---
      await page.getByTestId('nav-contactRequests').click()
      const requestCard = page.locator(`[data-testid="contact-request"][data-request-id="${request.id}"]`)
      const accept = requestCard.getByRole('button', { name: 'Accept' })
      await accept.waitFor({ timeout: hangBound() })
      const requestPatches = await holdRequests(page, [
        ['PATCH', /^\/api\/contact-requests\//],
        ['GET', /^\/api\/contact-requests$/],
      ])
      // Bob declines on his phone (HTTP); this page, still cut off, has not heard.
      const declined = await apiCall<{ status: string; updatedAt: string }>(
        e2e,
        bobApi.token,
        'PATCH',
        `/api/contact-requests/${request.id}`,
        { status: 'declined' },
      )
      expect(await requestCard.getByTestId('contact-request-status').textContent()).toBe('pending')

      await pressTwiceWhileBusy(page, requestCard, accept, requestPatches)
      await requestCard
        .getByTestId('contact-request-status')
        .filter({ hasText: 'declined' })
        .waitFor({ timeout: hangBound() })
      await requestCard.locator('button').first().waitFor({ state: 'detached', timeout: hangBound() })
      expect(await focusIn(page, requestCard)).toBe('card')
      expect(requestPatches.seen).toEqual([JSON.stringify({ status: 'accepted' })])
      const requests = await apiCall<{ id: string; status: string; updatedAt: string }[]>(
        e2e,
        alice.token,
        'GET',
        '/api/contact-requests',
      )
      expect(requests.find((r) => r.id === request.id)).toMatchObject({
        status: 'declined',
        updatedAt: declined.updatedAt,
      })

      // The socket comes back; the page is online again.
      blockSockets(e2e, bobApi.user.id, 0)
      await waitOnline(page)
    } finally {
      blockSockets(e2e, bobApi.user.id, 0)
      await context.close()
    }
  })
})
