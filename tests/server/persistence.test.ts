import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
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
  spawnMain,
  startTestServer,
} from './support/server'

const dirs: string[] = []
afterAll(async () => {
  await killSpawned()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
// Child processes compile TypeScript and open PGlite: slow on a loaded machine.
const SLOW = 120_000
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
})
