import { afterAll, beforeAll, describe, it } from 'vitest'
import { loginAs, openConversationWith, send, shot, startE2E, unique, WAIT, type E2E } from './support/app'

/** How the product looks: each page at desktop width and at 360 px, saved to test-artifacts/. */
describe('screenshots of each page', { timeout: 90_000 }, () => {
  let e2e: E2E
  beforeAll(async () => {
    e2e = await startE2E()
  })
  afterAll(async () => {
    await e2e?.close()
  })

  for (const [label, viewport] of [
    ['desktop', { width: 1280, height: 800 }],
    ['mobile', { width: 360, height: 740 }],
  ] as const) {
    it(`renders the login page and Alice's pages at ${label} width`, async () => {
      const context = await e2e.browser.newContext({ viewport })
      try {
        const login = await context.newPage()
        await login.goto(`${e2e.url}/`)
        await login.getByTestId('demo-alice').waitFor({ timeout: WAIT })
        await shot(login, `login-${label}`)
        await login.close()

        const { page } = await loginAs(e2e, 'alice', { context })
        await page.getByTestId('conversation-list').waitFor({ timeout: WAIT })
        await shot(page, `messages-list-alice-${label}`)
        await openConversationWith(page, 'Bob')
        await send(page, unique('A screenshot of a message that is long enough to wrap onto a second line on a phone'))
        await page.locator('[data-testid="message"][data-status="sent"]').last().waitFor({ timeout: WAIT })
        await shot(page, `thread-alice-${label}`)
        await page.getByTestId('nav-lessons').click()
        await page.getByTestId('lesson-list').waitFor({ timeout: WAIT })
        await shot(page, `lessons-alice-${label}`)
        await page.getByTestId('nav-contactRequests').click()
        await page.getByTestId('contact-request-list').waitFor({ timeout: WAIT })
        await shot(page, `contact-requests-alice-${label}`)
      } finally {
        await context.close()
      }
    })
  }

  it("renders Bob's (tutor) lessons at 360 px", async () => {
    const { context, page } = await loginAs(e2e, 'bob', { viewport: { width: 360, height: 740 } })
    try {
      await page.getByTestId('nav-lessons').click()
      await page.getByTestId('lesson-list').waitFor({ timeout: WAIT })
      await shot(page, 'lessons-bob-mobile')
    } finally {
      await context.close()
    }
  })
})
