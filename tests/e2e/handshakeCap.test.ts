import { describe, expect, it } from 'vitest'
import { e2ePerFile, waitOnline } from './support/app'
import { installRecordingDevTools, type RecordedAction } from './support/devtools'
import { hangBound } from '../support/hangBound'

// What the browser reads of a handshake the server refused at the per-address cap of unauthenticated sessions (an
// HTTP 429 with the contract's body, before any Socket.IO packet; tests/integration/handshakeCap.test.ts has it in
// Node): the page's WebSocket says nothing of its answer, the long-polling request it falls back to does.
describe('a handshake refused at the per-address cap, in the browser', () => {
  // DevTools (the recorder) is connected in development only; one unauthenticated session per address.
  const e2e = e2ePerFile({ build: 'development', server: { maxUnauthenticatedPerAddress: 1 } })

  it('is RATE_LIMITED with its wait, and the page comes online once the slot is free', async () => {
    // The address's one slot (the browser's is 127.0.0.1 too), held by a session that never authenticates.
    const held = await fetch(`${e2e.url}/socket.io/?EIO=4&transport=polling`)
    const { sid } = JSON.parse((await held.text()).slice(1)) as { sid: string }
    const release = () =>
      fetch(`${e2e.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' })
    const context = await e2e.browser.newContext({ viewport: { width: 1280, height: 800 } })
    await context.addInitScript(installRecordingDevTools)
    try {
      const page = await context.newPage()
      await page.goto(`${e2e.url}/`)
      await page.getByTestId('demo-alice').click()
      await page.locator('.login form button[type="submit"]').click()
      await page.getByTestId('current-user').waitFor({ timeout: hangBound() })
      const failed = await page.waitForFunction(
        () =>
          (window as unknown as { __devtools: { actions: RecordedAction[] } }).__devtools.actions.find(
            (a) => a.type === 'socket/connectFailed',
          )?.json,
        undefined,
        { timeout: hangBound() },
      )
      expect(JSON.parse(String(await failed.jsonValue()))).toMatchObject({
        payload: { code: 'RATE_LIMITED', message: 'RATE_LIMITED', retryAfterMs: 1_000 },
      })
      await release()
      await waitOnline(page)
    } finally {
      await release()
      await context.close()
    }
  })
})
