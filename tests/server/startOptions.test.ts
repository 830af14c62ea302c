import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type StartServerOptions, startServer } from '../../server/index'

// startServer's numbers were taken as given: eventRetentionSeconds NaN started a server whose every resuming handshake
// failed ('resume failed', the socket dropped, again at each reconnect: new Date(NaN).toISOString() throws), and a
// maxReplay of 0 answered every resume with sync:gap. A number that cannot be meant is refused at the start, naming it.
describe('startServer options that are no usable number', () => {
  it.each<[keyof StartServerOptions, number, RegExp]>([
    ['eventRetentionSeconds', Number.NaN, /^startServer: eventRetentionSeconds must be a number above 0, got NaN$/],
    ['eventRetentionSeconds', 0, /eventRetentionSeconds must be a number above 0, got 0/],
    ['maxReplay', 0, /maxReplay must be a whole number above 0, got 0/],
    ['maxReplay', 2.5, /maxReplay must be a whole number above 0, got 2.5/],
    ['maxSocketsPerUser', -1, /maxSocketsPerUser must be a whole number above 0, got -1/],
    ['tokenTtlSeconds', Number.POSITIVE_INFINITY, /tokenTtlSeconds must be a number above 0, got Infinity/],
    ['presenceGraceSeconds', -5, /presenceGraceSeconds must be a number of 0 or more, got -5/],
    ['closeGraceMs', Number.NaN, /closeGraceMs must be a number of 0 or more, got NaN/],
  ])('refuses %s = %s before opening anything', async (name, value, message) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'talemy-options-'))
    try {
      const started = startServer({ port: 0, dataDir, [name]: value })
      await expect(started).rejects.toThrow(message)
      // Refused before the database: nothing written in its folder.
      expect(readdirSync(dataDir)).toEqual([])
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

// The budgets' numbers too: a perSecond of 0 answered every refusal with `retryAfterMs` Infinity (sent as null), a NaN
// refused every request, and a loginLimit of 0 failures locked every account at its first typo.
describe('startServer budgets that are no usable number', () => {
  it.each<[keyof StartServerOptions, Record<string, number>, RegExp]>([
    ['rateLimit', { perSecond: 0, burst: 20 }, /^startServer: rateLimit\.perSecond must be a number above 0, got 0$/],
    [
      'loginRateLimit',
      { perSecond: 5, burst: Number.NaN },
      /loginRateLimit\.burst must be a number of 1 or more, got NaN/,
    ],
    ['readRateLimit', { perSecond: 20, burst: 0.5 }, /readRateLimit\.burst must be a number of 1 or more, got 0\.5/],
    ['loginLimit', { perEmail: 0 }, /loginLimit\.perEmail must be a whole number above 0, got 0/],
    ['loginLimit', { windowSeconds: -1 }, /loginLimit\.windowSeconds must be a number of 0 or more, got -1/],
  ])('refuses %s = %o before opening anything', async (name, value, message) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'talemy-options-'))
    const started = startServer({ port: 0, dataDir, [name]: value })
    try {
      await expect(started).rejects.toThrow(message)
      expect(readdirSync(dataDir)).toEqual([])
    } finally {
      // Started after all (the check missing): closed, or it would hold the thread open.
      await started.then((server) => server.close()).catch(() => undefined)
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

// npm start refused such a REDIS_PREFIX, but a program's own startServer call took it: `a*` would hear another
// deployment's broadcasts (the nodes subscribe to a pattern that starts with it), `a[1]` none of its own.
it.each(['a*', 'talemy[1]:'])('startServer refuses the redisPrefix %s before opening anything', async (redisPrefix) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'talemy-options-'))
  const started = startServer({ port: 0, dataDir, redisPrefix })
  try {
    await expect(started).rejects.toThrow(/^startServer: redisPrefix must not hold \*, \?, \[, \] or \\/)
    expect(readdirSync(dataDir)).toEqual([])
  } finally {
    await started.then((server) => server.close()).catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
  }
})
