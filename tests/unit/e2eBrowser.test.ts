import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import {
  checkBrowser,
  resolveE2EBrowser,
  sameMajor,
  SYSTEM_ARGS,
  sparticuzDir,
  unpackSparticuz,
} from '../e2e/support/chromium'

describe('sameMajor', () => {
  test.each([
    ['147.0.7727.0', 147, true],
    ['153.0.7800.1', 147, false],
    ['14.0.1', 147, false],
    ['', 147, false],
  ])('%s against %d → %s', (version, major, expected) => {
    expect(sameMajor(version, major)).toBe(expected)
  })
})

describe('resolveE2EBrowser', () => {
  test('CHROME_PATH is used as given, with the system flags (the explicit opt-in)', async () => {
    expect(await resolveE2EBrowser({ CHROME_PATH: '/opt/chrome/chrome' })).toEqual({
      executablePath: '/opt/chrome/chrome',
      args: SYSTEM_ARGS,
      source: 'CHROME_PATH',
      expectedMajor: null,
    })
  })
})

describe('unpackSparticuz', () => {
  let base: string
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'talemy-unpack-test-'))
  })
  afterEach(() => {
    rmSync(base, { recursive: true, force: true })
  })

  /** Behaves like `@sparticuz/chromium`'s `executablePath()`: reads `os.tmpdir()` when called, writes there later. */
  const fakePackage = (version: string) =>
    vi.fn(() => {
      const into = tmpdir()
      return (async () => {
        await new Promise((resolve) => setImmediate(resolve))
        writeFileSync(join(into, 'chromium'), version)
        writeFileSync(join(into, 'libGLESv2.so'), version)
        return join(into, 'chromium')
      })()
    })

  test('unpacks into a folder named after the version, never reusing a copy another version left in the temp folder', async () => {
    writeFileSync(join(base, 'chromium'), '153.0.0')
    writeFileSync(join(base, 'libGLESv2.so'), '153.0.0')
    const tmpdirBefore = process.env.TMPDIR
    const path = await unpackSparticuz('147.0.0', fakePackage('147.0.0'), base)
    expect(path).toBe(join(sparticuzDir('147.0.0', base), 'chromium'))
    expect(readFileSync(path, 'utf8')).toBe('147.0.0')
    expect(readFileSync(join(sparticuzDir('147.0.0', base), 'libGLESv2.so'), 'utf8')).toBe('147.0.0')
    expect(readFileSync(join(base, 'chromium'), 'utf8')).toBe('153.0.0')
    expect(process.env.TMPDIR).toBe(tmpdirBefore)
  })

  test('a second call reuses the unpacked copy', async () => {
    const first = fakePackage('147.0.0')
    await unpackSparticuz('147.0.0', first, base)
    const second = fakePackage('147.0.0')
    expect(await unpackSparticuz('147.0.0', second, base)).toBe(join(sparticuzDir('147.0.0', base), 'chromium'))
    expect(first).toHaveBeenCalledTimes(1)
    expect(second).not.toHaveBeenCalled()
  })

  test('runs unpacking at the same time each get a whole copy, and leave no half-unpacked folder', async () => {
    const paths = await Promise.all([1, 2, 3].map(() => unpackSparticuz('147.0.0', fakePackage('147.0.0'), base)))
    expect(new Set(paths)).toEqual(new Set([join(sparticuzDir('147.0.0', base), 'chromium')]))
    expect(readdirSync(base)).toEqual(['talemy-chromium-147.0.0'])
    expect(readdirSync(sparticuzDir('147.0.0', base)).sort()).toEqual(['READY', 'chromium', 'libGLESv2.so'])
  })

  test('a failed unpack leaves nothing behind, so the next run starts over', async () => {
    const failing = vi.fn(() => Promise.reject(new Error('disk full')))
    await expect(unpackSparticuz('147.0.0', failing, base)).rejects.toThrow('disk full')
    expect(readdirSync(base)).toEqual([])
  })

  test('an unpack that ignored the staging folder is refused rather than used', async () => {
    const elsewhere = join(base, 'elsewhere')
    mkdirSync(elsewhere)
    const stray = vi.fn(async () => join(elsewhere, 'chromium'))
    await expect(unpackSparticuz('147.0.0', stray, base)).rejects.toThrow(/not into/)
    expect(existsSync(sparticuzDir('147.0.0', base))).toBe(false)
  })
})

describe('checkBrowser', () => {
  const npm = {
    executablePath: '/tmp/talemy-chromium-147.0.0/chromium',
    args: [],
    source: '@sparticuz/chromium 147.0.0',
    expectedMajor: 147,
  }

  test('the declared version is used as it is', async () => {
    const discard = vi.fn()
    const checked = await checkBrowser({ resolve: async () => npm, versionOf: async () => '147.0.7727.0', discard })
    expect(checked).toEqual({ ...npm, version: '147.0.7727.0' })
    expect(discard).not.toHaveBeenCalled()
  })

  test('a copy of another version is discarded and unpacked again', async () => {
    const versions = ['153.0.7800.0', '147.0.7727.0']
    const resolve = vi.fn(async () => npm)
    const discard = vi.fn()
    const checked = await checkBrowser({ resolve, versionOf: async () => versions.shift()!, discard })
    expect(checked.version).toBe('147.0.7727.0')
    expect(discard.mock.calls).toEqual([[npm.executablePath]])
    expect(resolve).toHaveBeenCalledTimes(2)
  })

  test('a second mismatch fails the run instead of driving another browser', async () => {
    await expect(
      checkBrowser({ resolve: async () => npm, versionOf: async () => '153.0.7800.0', discard: () => {} }),
    ).rejects.toThrow(
      '@sparticuz/chromium 147.0.0 should run Chromium 147, but /tmp/talemy-chromium-147.0.0/chromium is 153.0.7800.0',
    )
  })

  test('CHROME_PATH promises no version: whatever it is, it is used', async () => {
    const system = {
      executablePath: '/usr/bin/chromium',
      args: SYSTEM_ARGS,
      source: 'CHROME_PATH',
      expectedMajor: null,
    }
    expect(
      await checkBrowser({ resolve: async () => system, versionOf: async () => '120.0.0.0', discard: () => {} }),
    ).toEqual({
      ...system,
      version: '120.0.0.0',
    })
  })
})
