import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { afterAll, expect, it } from 'vitest'
import type { Message } from './support/types'
import { ALICE, BOB, CAROL, exited, freshDataDir, http, login, repoRoot } from './support/server'
import { procState, spawnUnreaped, type Unreaped } from './support/unreaped'

// Issue 9: a server SIGKILLed during writes and started again at once on the same data folder must come up, while the
// killed process is still a zombie (not reaped), and keep every write it acknowledged. Twenty rounds, each on the same
// copied seeded folder.
//
// Each server runs under a parent that reaps it only when the test says so (support/unreaped.ts), so the killed server
// stays a zombie (state Z) for as long as the next one needs to take the folder: the case a supervisor meets when it
// restarts a crashed server before reaping it. (Node reaps its own children at once: a direct child would be a zombie
// only sometimes.) Server output goes to a log file in the test's temp folder; a failure prints its tail.

const ROUNDS = 20
/** Acknowledged writes per round before the kill; the other streams have requests in flight then. */
const KILL_AFTER_ACKS = 4
/** How long one restart may take to serve: a failure bound, not an expectation of speed. */
const SERVE_BOUND_MS = 90_000

const work = mkdtempSync(join(tmpdir(), 'talemy-restart-'))
const logFile = join(work, 'servers.log')
const dataDir = freshDataDir()
const servers = new Set<Unreaped>()

afterAll(async () => {
  for (const server of servers) {
    const pid = await server.pid.catch(() => undefined)
    if (pid !== undefined && procState(pid) !== undefined) process.kill(pid, 'SIGKILL')
    server.reap()
  }
  await Promise.all([...servers].map((server) => exited(server.parent)))
  rmSync(dataDir, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
})

interface Running {
  server: Unreaped
  pid: number
  url: string
}

/** Starts `server/main.ts` at once (synchronously), its output appended to the log; settles when it serves. */
function start(label: string): Promise<Running> {
  appendFileSync(logFile, `\n===== ${label}: start at ${new Date().toISOString()}\n`)
  const server = spawnUnreaped(
    [process.execPath, '--import', 'tsx', join(repoRoot, 'server/main.ts')],
    {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'warn', DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', JWT_SECRET: '' },
    },
    (text) => appendFileSync(logFile, text),
  )
  servers.add(server)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not serve within ${SERVE_BOUND_MS} ms`), SERVE_BOUND_MS)
    // The parent lives until reaped, so a server that gives up shows as a zombie, not as an exit: watch its state.
    const watch = setInterval(() => void check(), 50)
    let pid: number | undefined
    const fail = (why: string) => {
      clearTimeout(timer)
      clearInterval(watch)
      reject(new Error(`${label}: ${why}\n--- tail of ${logFile} ---\n${tail(readFileSync(logFile, 'utf8'), 40)}`))
    }
    const check = () => {
      const url = /open (http:\/\/\S+)/.exec(server.output())
      if (pid !== undefined && url) {
        clearTimeout(timer)
        clearInterval(watch)
        resolve({ server, pid, url: url[1]! })
        return
      }
      const state = pid === undefined ? 'R' : procState(pid)
      if (state === undefined || state === 'Z' || state === 'X')
        fail(`server ${pid} exited before serving (${state ?? 'gone'})`)
    }
    server.pid.then(
      (value) => (pid = value),
      (error: Error) => fail(error.message),
    )
  })
}

const tail = (text: string, lines: number) => text.split('\n').slice(-lines).join('\n')

interface Stream {
  email: string
  token: string
  conversationId: string
}

it.runIf(process.platform === 'linux')(
  `${ROUNDS} rounds of SIGKILL during writes and an immediate restart (the killed server still a zombie): every restart serves and keeps every acknowledged write`,
  async () => {
    const began = Date.now()
    let current = await start('round 0')
    const sessions = await Promise.all([ALICE, BOB, CAROL].map((email) => login(current.url, email)))
    const streams: Stream[] = [
      { email: ALICE, token: sessions[0]!.token, conversationId: 'conv-alice-bob' },
      { email: BOB, token: sessions[1]!.token, conversationId: 'conv-alice-bob' },
      { email: CAROL, token: sessions[2]!.token, conversationId: 'conv-alice-carol' },
    ]
    const acknowledged: Message[] = []
    let zombieRestarts = 0
    let unacknowledged = 0

    for (let round = 1; round <= ROUNDS; round++) {
      const killed = current
      let next: Promise<Running> | undefined
      const ackedThisRound: Message[] = []
      // Writes from three users at once; the ack that makes KILL_AFTER_ACKS kills the server and starts the next one
      // in the same tick, while the other streams wait on their requests.
      await Promise.all(
        streams.map(async (stream) => {
          for (let i = 0; next === undefined; i++) {
            let result
            try {
              result = await http<Message>(killed.url, 'POST', `/api/conversations/${stream.conversationId}/messages`, {
                token: stream.token,
                body: { content: `round ${round} ${stream.email} #${i}`, clientId: randomUUID() },
              })
            } catch {
              unacknowledged++ // the connection died with the server: not acknowledged, may or may not be stored
              return
            }
            if (next !== undefined) {
              if (result.status === 201) ackedThisRound.push(result.body) // acknowledged before the kill landed
              return
            }
            expect(result.status, JSON.stringify(result.body)).toBe(201)
            ackedThisRound.push(result.body)
            if (ackedThisRound.length >= KILL_AFTER_ACKS) {
              process.kill(killed.pid, 'SIGKILL')
              next = start(`round ${round}`)
            }
          }
        }),
      )
      current = await next!
      // The killed server is still unreaped: the new one took the folder from a zombie.
      if (procState(killed.pid) === 'Z') zombieRestarts++
      killed.server.reap()

      acknowledged.push(...ackedThisRound)
      for (const conversationId of ['conv-alice-bob', 'conv-alice-carol']) {
        const stream = streams.find((s) => s.conversationId === conversationId)!
        const stored = await http<Message[]>(
          current.url,
          'GET',
          `/api/conversations/${conversationId}/messages?limit=100`,
          {
            token: stream.token,
          },
        )
        expect(stored.status).toBe(200)
        const expected = ackedThisRound.filter((m) => m.conversationId === conversationId)
        expect(stored.body, `round ${round}: every acknowledged write kept`).toEqual(expect.arrayContaining(expected))
      }
    }

    // Nothing acknowledged in an earlier round went missing later either.
    for (const conversationId of ['conv-alice-bob', 'conv-alice-carol']) {
      const stream = streams.find((s) => s.conversationId === conversationId)!
      const stored = await allMessages(current.url, conversationId, stream.token)
      const ids = new Set(stored.map((m) => m.id))
      const missing = acknowledged.filter((m) => m.conversationId === conversationId && !ids.has(m.id))
      expect(missing).toEqual([])
    }
    console.log(
      'restart after SIGKILL',
      JSON.stringify({
        rounds: ROUNDS,
        zombieRestarts,
        acknowledged: acknowledged.length,
        unacknowledged,
        ms: Date.now() - began,
      }),
    )
    expect(acknowledged.length).toBeGreaterThanOrEqual(ROUNDS * KILL_AFTER_ACKS)
    expect(zombieRestarts).toBe(ROUNDS)

    process.kill(current.pid, 'SIGTERM')
    current.server.reap()
    expect(await exited(current.server.parent)).toBe(0)
  },
  ROUNDS * (SERVE_BOUND_MS + 5_000),
)

/** Every message of a conversation, paging back with `before`. */
async function allMessages(url: string, conversationId: string, token: string): Promise<Message[]> {
  const all: Message[] = []
  let before: number | undefined
  for (;;) {
    const query = before === undefined ? '?limit=100' : `?limit=100&before=${before}`
    const page = await http<Message[]>(url, 'GET', `/api/conversations/${conversationId}/messages${query}`, { token })
    expect(page.status).toBe(200)
    all.unshift(...page.body)
    if (page.body.length === 0) return all
    before = page.body[0]!.seq
  }
}
