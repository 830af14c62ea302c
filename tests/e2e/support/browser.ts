import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** The flags TOOLCHAIN.md found to work for a system Chromium here. */
const SYSTEM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * A headless Chromium: `CHROME_PATH` or `/usr/bin/chromium` when present, otherwise the one `@sparticuz/chromium`
 * ships inside its npm package (so `npm install && npm test` needs nothing else).
 */
export async function launchBrowser(): Promise<Browser> {
  const system = process.env.CHROME_PATH || (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : '')
  if (system) return chromium.launch({ executablePath: system, args: SYSTEM_ARGS, headless: true })
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `@sparticuz/chromium ships a Chromium for Linux x64 only (this is ${process.platform}/${process.arch}): ` +
        'set CHROME_PATH to a local Chrome or Chromium to run the end-to-end tests',
    )
  }
  const { default: sparticuz } = await import('@sparticuz/chromium')
  // Its flags are tuned for AWS Lambda; `--single-process` makes the browser die when a context closes and another
  // opens, and the tests open several contexts per browser, so that one goes.
  const args = sparticuz.args.filter((a) => a !== '--single-process')
  return chromium.launch({ executablePath: await sparticuz.executablePath(), args, headless: true })
}
