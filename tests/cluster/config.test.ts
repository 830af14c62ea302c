import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'

describe('REDIS_URL configuration', () => {
  it('refuses REDIS_URL without DATABASE_URL, saying why, before opening anything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'talemy-redis-config-'))
    try {
      await expect(startServer({ port: 0, dataDir, redisUrl: 'redis://127.0.0.1:1' })).rejects.toThrow(
        /REDIS_URL needs DATABASE_URL: .*embedded database \(PGlite\) belongs to one process/,
      )
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('says where it tried when Redis cannot be reached (the password left out)', async () => {
    await expect(
      startServer({
        port: 0,
        dataDir: tmpdir(),
        databaseUrl: 'postgres://127.0.0.1:1/none',
        redisUrl: 'redis://:secret@127.0.0.1:1',
      }),
    ).rejects.toThrow(/cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/)
  })

  it('refuses a malformed REDIS_URL naming the variable, and its password reaches neither the message nor the error', async () => {
    const refused = await startServer({
      port: 0,
      dataDir: tmpdir(),
      databaseUrl: 'postgres://127.0.0.1:1/none',
      redisUrl: 'redis://:hunter2secret@redis:63x79',
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    )
    expect(refused?.message).toMatch(/^REDIS_URL is not a URL/)
    // What `npm start` logs of it: pino writes every own property (Node's URL error carries the whole input).
    expect(JSON.stringify(refused, Object.getOwnPropertyNames(refused))).not.toContain('hunter2secret')
  })
})
