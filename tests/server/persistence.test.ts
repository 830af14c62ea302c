import { randomUUID } from 'node:crypto'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { pgliteDir } from '../../server/db'
import { lockFolder } from '../../server/db/lock'
import type { Lesson, Message } from './support/types'
import {
  ALICE,
  connect,
  emitAck,
  exited,
  freshDataDir,
  http,
  killSpawned,
  login,
  repoRoot,
  spawnMain,
  startTestServer,
} from './support/server'

const dirs: string[] = []
afterAll(async () => {
  await killSpawned()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
// Child processes compile TypeScript and open PGlite: slow on a loaded machine.
const SLOW = 300_000
const newDataDir = () => {
  const dir = freshDataDir()
  dirs.push(dir)
  return dir
}

// The two groups are independent (own data folders) and mostly wait on child processes and disk: run them side by side.
describe.concurrent('restart', () => {
  it(
    'keeps data, seq numbering and tokens across a restart (secret kept with the data)',
    async () => {
      const dataDir = newDataDir()
      const first = await startTestServer({ dataDir })
      const { token } = await login(first.url, ALICE)
      const seededLessons = await http<Lesson[]>(first.url, 'GET', '/api/lessons', { token })
      const sent = await http<Message>(first.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
        token,
        body: { content: 'remember me', clientId: randomUUID() },
      })
      const lesson = await http<Lesson>(first.url, 'POST', '/api/lessons', {
        token,
        body: {
          tutorId: 'user-carol',
          subject: 'Persistence',
          startsAt: '2031-01-01T08:00:00.000Z',
          durationMinutes: 30,
        },
      })
      await first.close()

      const second = await startTestServer({ dataDir })
      try {
        expect((await http(second.url, 'GET', '/api/me', { token })).status).toBe(200)
        const messages = await http<Message[]>(second.url, 'GET', '/api/conversations/conv-alice-bob/messages', {
          token,
        })
        expect(messages.body.at(-1)).toEqual(sent.body)
        // Seeded once: the demo lessons are not added again, the new one is kept.
        const lessons = await http<Lesson[]>(second.url, 'GET', '/api/lessons', { token })
        expect(lessons.body).toHaveLength(seededLessons.body.length + 1)
        expect(lessons.body).toContainEqual(lesson.body)
        const socket = await connect(second.url, token)
        const next = await emitAck<Message>(socket, 'message:send', {
          conversationId: 'conv-alice-bob',
          content: 'after restart',
          clientId: randomUUID(),
        })
        socket.close()
        expect(next.ok && next.data.seq).toBe(sent.body.seq + 1)
      } finally {
        await second.close()
      }
    },
    SLOW,
  )
})

describe.concurrent('npm start (server/main.ts as a child process)', () => {
  const env = (dataDir: string) => ({ DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', JWT_SECRET: '' })

  it(
    'keeps every committed message after a SIGKILL (the folder is locked while in use), then exits cleanly on SIGTERM',
    async () => {
      const dataDir = newDataDir()
      const first = await spawnMain(env(dataDir))
      const { token } = await login(first.url, ALICE)
      const stored: Message[] = []
      for (let i = 0; i < 15; i++) {
        const result = await http<Message>(first.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
          token,
          body: { content: `durable ${i}`, clientId: randomUUID() },
        })
        expect(result.status).toBe(201)
        stored.push(result.body)
      }
      // While it runs, nobody else may open its data folder.
      await expect(startTestServer({ dataDir })).rejects.toThrow(/in use by another server/)
      first.child.kill('SIGKILL')
      await exited(first.child)

      const second = await spawnMain(env(dataDir))
      try {
        const messages = await http<Message[]>(second.url, 'GET', '/api/conversations/conv-alice-bob/messages', {
          token,
        })
        expect(messages.status).toBe(200)
        expect(messages.body.slice(-15)).toEqual(stored)
      } finally {
        second.child.kill('SIGTERM')
      }
      expect(await exited(second.child)).toBe(0)
    },
    SLOW,
  )

  it(
    'a first start killed while the embedded database was being made (its PG_VERSION written, not all the rest): the next start makes it and serves',
    async () => {
      const base = mkdtempSync(join(tmpdir(), 'talemy-first-start-'))
      dirs.push(base)
      const dataDir = join(base, 'data')
      // The kill comes from inside the child (support/killAfterWrite.mjs) at that exact write: from outside it would
      // land there only by luck (the window is a few milliseconds of a start that takes seconds).
      const killed = spawnMain({
        ...env(dataDir),
        NODE_OPTIONS: `--import tsx --import ${join(repoRoot, 'tests/server/support/killAfterWrite.mjs')}`,
        KILL_AFTER_WRITE: '/pglite[^/]*/PG_VERSION$',
      })
      await expect(killed).rejects.toThrow(/killed after writing .*PG_VERSION/)

      const next = await spawnMain(env(dataDir))
      try {
        const { token } = await login(next.url, ALICE)
        const sent = await http<Message>(next.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
          token,
          body: { content: 'first words', clientId: randomUUID() },
        })
        expect(sent.status).toBe(201)
      } finally {
        next.child.kill('SIGTERM')
      }
      expect(await exited(next.child)).toBe(0)
    },
    SLOW,
  )
})

describe('a database that cannot be opened', () => {
  it('is refused with the folder named and what to do, and the data folder is left for the next try', async () => {
    const dataDir = newDataDir()
    const dir = pgliteDir(dataDir)
    // What a start of an earlier version, killed while PGlite made the database, could leave.
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'PG_VERSION'), '17\n')
    await expect(startTestServer({ dataDir })).rejects.toThrow(
      `the database in ${dir} cannot be opened (PGlite failed to initialize properly). If a server was stopped while it first made this folder, the folder holds no data yet: delete it and start again`,
    )
    // Released: the folder is not held by the failed start.
    ;(await lockFolder(dataDir))()
  })

  it('files but no PG_VERSION (not a database: an older first start killed early, or not ours) are refused, never deleted', async () => {
    const dataDir = newDataDir()
    const dir = pgliteDir(dataDir)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(join(dir, 'base'), { recursive: true })
    writeFileSync(join(dir, 'notes.txt'), 'somebody’s')
    await expect(startTestServer({ dataDir })).rejects.toThrow(`${dir} holds files (base, notes.txt) but no database`)
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('somebody’s')
    ;(await lockFolder(dataDir))()
  })
})

// Review (ASVS 14.1/6.4, CWE-276): PGlite creates its files world-writable (0666) and its folders 0755, and the data
// folder was made with the default mode (0755 under the usual umask): any local account could read the database (the
// JWT signing secret is kept there: tokens for anyone) and write it. The data folder is now created 0700, and the
// database's own folder is made 0700 at every start (a folder made before is closed too).
describe('the data folder is closed to other local accounts', () => {
  it('a new data folder is 0700, and the database folder in it is 0700 however it was left before', async () => {
    const base = newDataDir()
    const dataDir = join(base, 'nested', 'data')
    // The seeded template's files, copied with the modes PGlite gave them (a database made before this change).
    cpSync(join(base, 'pglite'), join(dataDir, 'pglite'), { recursive: true })
    chmodSync(join(dataDir, 'pglite'), 0o755)
    const server = await startTestServer({ dataDir })
    try {
      expect(statSync(join(dataDir, 'pglite')).mode & 0o777).toBe(0o700)
      const created = mkdtempSync(join(tmpdir(), 'talemy-mode-'))
      dirs.push(created)
      const release = await lockFolder(join(created, 'fresh'))
      release()
      expect(statSync(join(created, 'fresh')).mode & 0o777).toBe(0o700)
    } finally {
      await server.close()
    }
  })
})
