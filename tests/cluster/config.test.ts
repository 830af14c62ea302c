import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'
import { connectRedis } from '../../server/cluster/redis'
import { stablePort } from '../support/ports'
import { redisRunnable, requireParts } from './support/redis'

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

  it('says why Redis cannot be reached (the connection refused), not only that the connection is closed', async () => {
    await expect(
      startServer({
        port: 0,
        dataDir: tmpdir(),
        databaseUrl: 'postgres://127.0.0.1:1/none',
        redisUrl: 'redis://127.0.0.1:1',
      }),
    ).rejects.toThrow('cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1')
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

// Every failure to connect was said as ioredis's "Connection is closed.": a refused port, an unknown host, a Redis that
// wants a password and one given wrong all read the same, and the operator could not tell which to fix.
describe('a Redis that cannot be used at start', () => {
  it('says the connection was refused', async () => {
    await expect(connectRedis('redis://127.0.0.1:1')).rejects.toThrow(
      /^cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/,
    )
  })

  // ioredis reads a bare host:port (user:password@ in front) as redis://…; Node's URL read it as the scheme `user:`,
  // with no password to hide, and the refusal showed the whole value.
  it.each(['user:hunter2secret@127.0.0.1:1', ':hunter2secret@127.0.0.1:1'])(
    'names the host of a bare %s, never its password',
    async (url) => {
      const refused = await connectRedis(url).then(
        () => new Error('connected'),
        (error: Error) => error,
      )
      expect(refused.message).toMatch(/^cannot reach Redis at \S*127\.0\.0\.1:1: .*ECONNREFUSED/)
      expect(refused.message).not.toContain('hunter2secret')
    },
  )

  const ready = requireParts('tests/cluster/config.test.ts', [redisRunnable()])

  it.runIf(ready)('says a password is wanted, or the one given is wrong, and never repeats it', async () => {
    const port = await stablePort()
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'right-one'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    try {
      await new Promise<void>((resolve, reject) => {
        let output = ''
        redis.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString()
          if (/Ready to accept connections/.test(output)) resolve()
        })
        redis.once('exit', () => reject(new Error(`redis-server exited: ${output}`)))
      })
      await expect(connectRedis(`redis://127.0.0.1:${port}`)).rejects.toThrow(/NOAUTH/)
      const wrong = await connectRedis(`redis://:wrong-one@127.0.0.1:${port}`).then(
        () => new Error('connected'),
        (error: Error) => error,
      )
      expect(wrong.message).toMatch(/WRONGPASS/)
      expect(wrong.message).not.toContain('wrong-one')
    } finally {
      redis.kill('SIGKILL')
    }
  })
})
