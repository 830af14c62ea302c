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
})
