import { describe, expect, it } from 'vitest'
import { badge, e2ePerFile, loginAs } from './support/app'
import { hangBound } from '../support/hangBound'

// The page opens a WebSocket first (see tests/e2e/cluster.test.ts); where none can open, it must still come online,
// over HTTP long-polling.
describe('the page where WebSockets cannot open', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it('comes online over long-polling', async () => {
    // Engine.IO refuses every WebSocket (400), as a proxy without WebSocket support would fail them.
    ;(e2e.server.io.engine as unknown as { opts: { transports: string[] } }).opts.transports = ['polling']
    const context = await e2e.browser.newContext({ viewport: { width: 1280, height: 800 } })
    const transports: string[] = []
    context.on('request', (request) => {
      if (request.url().includes('/socket.io/'))
        transports.push(new URL(request.url()).searchParams.get('transport') ?? '')
    })
    try {
      // `loginAs` waits for the connection badge to say "connected".
      await loginAs(e2e, 'alice', { context })
      expect(transports).toContain('polling')
    } finally {
      await context.close()
    }
  })

  it('comes online over long-polling where a WebSocket opens and never answers (a proxy holding it)', async () => {
    ;(e2e.server.io.engine as unknown as { opts: { transports: string[] } }).opts.transports = ['polling', 'websocket']
    const context = await e2e.browser.newContext({ viewport: { width: 1280, height: 800 } })
    // Not passed on to the server: the page's WebSocket opens and nothing ever comes through it.
    await context.routeWebSocket(/\/socket\.io\//, () => {})
    const page = await context.newPage()
    try {
      await page.goto(`${e2e.url}/`)
      await page.getByTestId('demo-alice').click()
      await page.locator('.login form button[type="submit"]').click()
      await page.getByTestId('current-user').waitFor({ timeout: hangBound() })
      // The first attempt ends at Socket.IO's connect timeout (20 s); the next one starts on long-polling.
      await badge(page).and(page.locator('[data-status="connected"]')).waitFor({ timeout: hangBound() })
    } finally {
      await context.close()
    }
  })
})
