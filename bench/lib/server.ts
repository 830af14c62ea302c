import { fork, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { cp, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { User } from '../../src/contract'
import type { HostCommandName, HostCommands, HostOptions, HostReply, SeededPair } from './hostProtocol'
import { BENCH_DIR, REPO_ROOT } from './paths'
import { onShutdown } from './shared'
import { sleep, withTimeout } from './stats'

export interface Host {
  url: string
  relayUrl: string
  seeded: SeededPair[]
  call<K extends HostCommandName>(cmd: K, ...args: Parameters<HostCommands[K]>): ReturnType<HostCommands[K]>
  close(): Promise<void>
}

/**
 * A migrated, seeded data folder to copy (PGlite's initdb costs ~6 s, a copy ~0.2 s): the same folder, under the
 * same name, as the server tests' global setup builds (keyed by a hash of the code that shapes it), built here the
 * same way when absent.
 */
async function templateDataDir(): Promise<string> {
  const sources = ['server/db', 'server/passwords.ts'].flatMap((path) => {
    const full = join(REPO_ROOT, path)
    return path.endsWith('.ts')
      ? [full]
      : readdirSync(full)
          .sort()
          .map((file) => join(full, file))
  })
  const hash = createHash('sha256')
  for (const file of sources) hash.update(readFileSync(file))
  const dir = join(tmpdir(), `talemy-server-template-${hash.digest('hex').slice(0, 16)}`)
  if (!existsSync(join(dir, 'READY'))) {
    const { openDatabase, seedIfNew } = await import('../../server/db')
    const { OWASP_ARGON2ID, PasswordHasher } = await import('../../server/passwords')
    const building = await mkdtemp(join(tmpdir(), 'talemy-template-build-'))
    const db = await openDatabase({ dataDir: building })
    await seedIfNew(db, new PasswordHasher(OWASP_ARGON2ID))
    await db.close()
    await writeFile(join(building, 'READY'), new Date().toISOString())
    await rename(building, dir).catch(() => rm(building, { recursive: true, force: true }))
  }
  return dir
}

/** Forks `host.ts` (the reference server in its own process, on a copy of the template data) and waits until it listens. */
export async function startHost(opts: { seedPairs?: number } = {}): Promise<Host> {
  const dataDir = await mkdtemp(join(tmpdir(), 'talemy-bench-'))
  await cp(await templateDataDir(), dataDir, { recursive: true })
  const options: HostOptions = { dataDir, jwtSecret: randomBytes(32).toString('base64url'), seedPairs: opts.seedPairs }
  const child: ChildProcess = fork(join(BENCH_DIR, 'lib', 'host.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_HOST_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  let nextId = 1
  let exited = false
  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject })
  })
  child.on('message', (raw) => {
    const reply = raw as HostReply
    const waiter = pending.get(reply.id)
    if (!waiter) return
    pending.delete(reply.id)
    if (reply.ok) waiter.resolve(reply.result)
    else waiter.reject(new Error(`host: ${reply.error}`))
  })
  child.on('exit', (code) => {
    exited = true
    for (const waiter of pending.values()) waiter.reject(new Error(`bench host exited with ${code}`))
    pending.clear()
  })

  const call = (cmd: HostCommandName, args?: unknown): Promise<unknown> => {
    if (exited) return Promise.reject(new Error('bench host is gone'))
    const id = nextId++
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject })
      child.send({ id, cmd, args })
    })
  }

  await withTimeout(ready, 120_000, 'the reference server to start')
  const info = (await call('info')) as Awaited<ReturnType<HostCommands['info']>>
  let closed: Promise<void> | undefined
  const host: Host = {
    url: info.url,
    relayUrl: info.relayUrl,
    seeded: info.seeded,
    call: call as Host['call'],
    close() {
      closed ??= (async () => {
        if (!exited) {
          const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
          await call('close').catch(() => undefined)
          await withTimeout(gone, 10_000, 'the bench host to exit').catch(() => child.kill('SIGKILL'))
        }
        await rm(dataDir, { recursive: true, force: true })
      })()
      return closed
    },
  }
  onShutdown(() => host.close())
  return host
}

let shared: Promise<Host> | undefined

/**
 * One reference server for P1–P6, started on first use and closed at the end of the run, with 8 extra pairs of users
 * (each pair with a conversation) so that every figure and variant has users of its own.
 */
export function sharedHost(): Promise<Host> {
  shared ??= startHost({ seedPairs: 8 })
  return shared
}

export interface Session {
  token: string
  user: User
}

export const DEMO = { alice: 'alice@talemy.test', bob: 'bob@talemy.test', carol: 'carol@talemy.test' } as const

export async function login(url: string, email: string, password = 'talemy'): Promise<Session> {
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  })
  if (!response.ok) throw new Error(`login ${email}: HTTP ${response.status} ${await response.text()}`)
  return (await response.json()) as Session
}

export async function getJson<T>(url: string, path: string, token: string): Promise<T> {
  const response = await fetch(`${url}/api${path}`, { headers: { authorization: `Bearer ${token}` } })
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`)
  return (await response.json()) as T
}

/**
 * The host's count of `key` requests (e.g. `GET /api/lessons`) since `before`, read once the client has been quiet for
 * `quietMs`: no new request and nothing in flight (`isFetching`) for that long (at most 30 s). A refetch that waits
 * behind an invalidation window is still counted.
 *
 * @example const refetches = await requestsUntilQuiet(host, 'GET /api/lessons', isFetching, before, 1500)
 */
export async function requestsUntilQuiet(
  host: Pick<Host, 'call'>,
  key: string,
  isFetching: () => boolean,
  before: number,
  quietMs: number,
): Promise<number> {
  let last = await host.call('requests', { key })
  let quietSince = Date.now()
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    await sleep(100)
    const now = await host.call('requests', { key })
    if (now !== last || isFetching()) {
      last = now
      quietSince = Date.now()
    } else if (Date.now() - quietSince >= quietMs) break
  }
  return last - before
}
