import { chromium, type Browser } from 'playwright-core'
import { inject } from 'vitest'

/**
 * A headless Chromium: the one the e2e global setup chose for this run (`@sparticuz/chromium`'s, or `CHROME_PATH`
 * when set), already unpacked and checked there, so test files starting at once never unpack it concurrently.
 */
export async function launchBrowser(): Promise<Browser> {
  const choice = inject('e2eBrowser')
  if ('error' in choice) throw new Error(`no browser for the end-to-end tests: ${choice.error}`)
  return chromium.launch({ executablePath: choice.executablePath, args: choice.args, headless: true })
}
