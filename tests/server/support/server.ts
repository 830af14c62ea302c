import { randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client'
import { afterAll, beforeAll, inject } from 'vitest'
import type {
  Ack,
  ClientToServerEvents,
  ServerEventName,
  ServerEventPayload,
  ServerToClientEvents,
  Session,
} from './types'
import { openDatabase, type Db } from '../../../server/db'
import { startServer, type RunningServer, type StartServerOptions } from '../../../server/index'

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>

export const repoRoot = resolve(import.meta.dirname, '../../..')

/**
 * A private copy of the seeded template data folder, in this run's folder (`testRunDir`), which the run deletes at its
 * end: a test that fails before its own cleanup leaves no 40 MB copy behind in the temp folder.
 */
export function freshDataDir(): string {
  const dir = mkdtempSync(join(inject('testRunDir'), 'server-test-'))
  cpSync(inject('serverTemplateDir'), dir, { recursive: true })
  return dir
}

/**
 * For the tests of the `describe` it is called in: a database on a private copy of the seeded template, opened before
 * them, closed and deleted after them. Read `.db` inside a test, once the hooks have run.
 */
export function freshDatabase(): { readonly db: Db } {
  let dataDir = ''
  let db: Db | undefined
  beforeAll(async () => {
    dataDir = freshDataDir()
    db = await openDatabase({ dataDir })
  })
  afterAll(async () => {
    await db?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })
  return {
    get db() {
      if (!db) throw new Error('freshDatabase: the database is opened in beforeAll, read it inside a test')
      return db
    },
  }
}

export interface TestServer extends RunningServer {
  dataDir: string
  /** Closes the server and deletes its data folder. */
  dispose(): Promise<void>
}

/** A server on a free port with its own copy of the seeded data. A generous rate limit unless one is given. */
export async function startTestServer(options: StartServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? freshDataDir()
  const server = await startServer({ port: 0, rateLimit: { perSecond: 1000, burst: 1000 }, ...options, dataDir }).catch(
    (error: unknown) => {
      // A start that fails (a test of the refusal itself) leaves no copy behind: no `dispose` will come for it.
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
      throw error
    },
  )
  return {
    ...server,
    dataDir,
    async dispose() {
      await server.close()
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export const ALICE = 'alice@talemy.test'
export const BOB = 'bob@talemy.test'
export const CAROL = 'carol@talemy.test'

export interface HttpResult<T = unknown> {
  status: number
  body: T
  headers: Headers
}

/** JSON over fetch; `token` adds the Bearer header. */
export async function http<T = unknown>(
  url: string,
  method: string,
  path: string,
  { token, body, headers }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const response = await fetch(url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON (the SPA's HTML, for instance)
  }
  return { status: response.status, body: parsed as T, headers: response.headers }
}

/**
 * Declines every request of `studentId` still pending with the tutor whose token this is. The server keeps one pending
 * request per student and tutor, so a test that asks afresh clears the way first (the seed has Alice's to Carol).
 *
 * @example await declinePending(url, carol.token, 'user-alice'); await http(url, 'POST', '/api/contact-requests', …)
 */
export async function declinePending(url: string, tutorToken: string, studentId: string): Promise<void> {
  const listed = await http<Array<{ id: string; studentId: string; status: string }>>(
    url,
    'GET',
    '/api/contact-requests',
    {
      token: tutorToken,
    },
  )
  for (const request of listed.body) {
    if (request.studentId !== studentId || request.status !== 'pending') continue
    const answered = await http(url, 'PATCH', `/api/contact-requests/${request.id}`, {
      token: tutorToken,
      body: { status: 'declined' },
    })
    if (answered.status !== 200) throw new Error(`declining ${request.id} failed: ${answered.status}`)
  }
}

export async function login(url: string, email: string): Promise<Session> {
  const result = await http<Session>(url, 'POST', '/api/auth/login', { body: { email, password: 'talemy' } })
  if (result.status !== 200) throw new Error(`login ${email} failed: ${result.status} ${JSON.stringify(result.body)}`)
  return result.body
}

type ClientOptions = Partial<ManagerOptions & SocketOptions>

/** A typed client on the websocket transport, resolved at the first of `readyOn` (rejected with a connect_error). */
function openClient(
  url: string,
  token: string | undefined,
  options: ClientOptions,
  readyOn: readonly string[],
): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...options,
    autoConnect: false,
  })
  return new Promise((resolvePromise, reject) => {
    // A server that ends the socket before it is ready (a refused resume, a session revoked meanwhile) fails the
    // test at once, with why, instead of letting it wait for its timeout.
    const early = (reason: string) => reject(new Error(`disconnected before ${readyOn.join(' or ')}: ${reason}`))
    const ready = () => {
      socket.off('disconnect', early)
      resolvePromise(socket)
    }
    for (const event of readyOn) (socket as unknown as { once(e: string, l: () => void): void }).once(event, ready)
    socket.once('connect_error', (error) => {
      socket.close()
      reject(error)
    })
    socket.once('disconnect', early)
    socket.connect()
  })
}

/**
 * A typed client that is live: connected, and past its handshake's `sync:*`, so every event committed from now on
 * reaches it. A client that connects without an offset starts from the log's head when its handshake reads it: an
 * event committed before that read is in its past (read over HTTP), and a test that writes one right after `connect`
 * races that read.
 */
export function connectLive(url: string, token: string, options: ClientOptions = {}): Promise<ClientSocket> {
  return openClient(url, token, options, ['sync:caughtUp', 'sync:gap'])
}

/** A typed client on the websocket transport, connected (or rejected: the promise rejects with the connect_error). */
export function connect(url: string, token: string | undefined, options: ClientOptions = {}): Promise<ClientSocket> {
  return openClient(url, token, options, ['connect'])
}

/**
 * A typed client on the websocket transport that records every event it receives from the first on: its listener is
 * in place before the handshake, so the handshake's own `presence:*` and `sync:*` are kept too (`record` leaves them
 * out). It is made unconnected so that a test can register it for clean-up, and add its own listeners, before
 * `connect()`, which resolves at `readyOn` (rejects with the connect_error).
 */
export function recordingFromHandshake(url: string, token: string, readyOn: 'connect' | 'sync:caughtUp') {
  const socket: ClientSocket = io(url, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    autoConnect: false,
  })
  const events: { event: string; payload: Record<string, unknown> }[] = []
  socket.onAny((event: string, payload: unknown) => events.push({ event, payload: payload as Record<string, unknown> }))
  const connect = () =>
    new Promise<void>((resolve, reject) => {
      ;(socket as unknown as { once(e: string, l: () => void): void }).once(readyOn, () => resolve())
      socket.once('connect_error', reject)
      socket.connect()
    })
  return { socket, events, connect }
}

/**
 * The same socket without the contract's event types, to send what the contract forbids (an unknown event, a wrong
 * payload, no ack callback) and see how the server answers.
 *
 * @example untyped(alice).emit('conversation:join', 42)
 */
export function untyped(socket: ClientSocket): Socket {
  return socket as unknown as Socket
}

/** Emits with an ack and a timeout; resolves the server's `Ack`. */
export function emitAck<T = unknown>(socket: ClientSocket, event: string, ...args: unknown[]): Promise<Ack<T>> {
  return untyped(socket)
    .timeout(15_000)
    .emitWithAck(event, ...args) as Promise<Ack<T>>
}

export interface Recorder {
  events: { event: ServerEventName; payload: unknown }[]
  of<E extends ServerEventName>(event: E): ServerEventPayload<E>[]
  clear(): void
}

/** Records every server event a socket receives. */
export function record(socket: ClientSocket): Recorder {
  const events: Recorder['events'] = []
  // Events for this user: not `sync:*` nor `presence:*` (after every handshake, and whenever a contact comes or goes).
  socket.onAny((event: string, payload: unknown) => {
    if (!event.startsWith('sync:') && !event.startsWith('presence:'))
      events.push({ event: event as ServerEventName, payload })
  })
  return {
    events,
    of: <E extends ServerEventName>(event: E) =>
      events.filter((item) => item.event === event).map((item) => item.payload as ServerEventPayload<E>),
    clear: () => void events.splice(0),
  }
}

/** Resolves with the next `event` matching `predicate`; rejects after `ms`. */
export function nextEvent<E extends ServerEventName>(
  socket: ClientSocket,
  event: E,
  predicate: (payload: ServerEventPayload<E>) => boolean = () => true,
  ms = 15_000,
): Promise<ServerEventPayload<E>> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      untyped(socket).off(event as string, listener)
      reject(new Error(`no ${event} within ${ms} ms`))
    }, ms)
    const listener = (payload: ServerEventPayload<E>) => {
      if (!predicate(payload)) return
      clearTimeout(timer)
      untyped(socket).off(event as string, listener)
      resolvePromise(payload)
    }
    untyped(socket).on(event as string, listener)
  })
}

/**
 * Proves that every event the server emitted to these sockets before this call has arrived, however slow the
 * machine: each socket makes an ack round trip (leaving a room nobody is in), and one connection delivers in order.
 * The server emits a change's events before it answers for it (ack or HTTP response), so once the change's answer
 * and `delivered(...)` have resolved, an event that has not arrived never will: "nobody else received it" holds.
 *
 * @example const ack = await send(alice1); await delivered(bob1, carol1); expect(rec.carol1.events).toEqual([])
 */
export async function delivered(...sockets: ClientSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(async (socket) => {
      const ack = await emitAck(socket, 'conversation:leave', 'delivery-barrier')
      if (!ack.ok) throw new Error(`delivery barrier refused: ${JSON.stringify(ack)}`)
    }),
  )
}

/** A clock for `startServer({ now })` that moves only when the test says so. */
export function manualClock(start = Date.now()) {
  let time = start
  return {
    now: () => time,
    advance(ms: number) {
      time += ms
    },
  }
}

// What a file's afterAll has not killed, the run's teardown does (tests/support/leftoverGlobalSetup.ts).
const spawned = new Set<ChildProcess>()

/** SIGKILLs every `spawnMain` child still running (for `afterAll`). */
export async function killSpawned(): Promise<void> {
  await Promise.all(
    [...spawned].map((child) => {
      child.kill('SIGKILL')
      return exited(child)
    }),
  )
}

/** `tsx server/main.ts` as a child process, `env` over the test's own, its output piped; `killSpawned` ends it. */
function spawnTracked(env: Record<string, string>, options: { detached?: boolean; uid?: number; gid?: number } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'server/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  })
  spawned.add(child)
  child.once('exit', () => spawned.delete(child))
  return child
}

/**
 * `npm start` (`tsx server/main.ts`) as a child process, not waited for: on port 0, logging JSON at `info`, with `env`
 * over that. `freshBuild`: a build-time variable no build was made with, so the SPA is built whatever `dist/` holds.
 * `detached`: its own process group (a build it starts goes with it).
 */
export function spawnStart(env: Record<string, string>, options: { freshBuild?: boolean; detached?: boolean } = {}) {
  const fresh: Record<string, string> = options.freshBuild ? { VITE_TALEMY_TEST_STAMP: randomUUID() } : {}
  return spawnTracked(
    { PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...fresh, ...env },
    { detached: options.detached ?? false },
  )
}

/** `tsx server/main.ts` as a child process; resolves once it prints its URL. `output()`: its stdout and stderr so far. */
export function spawnMain(
  env: Record<string, string>,
  account: { uid?: number; gid?: number } = {},
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawnTracked({ LOG_LEVEL: 'warn', ...env }, account)
  return new Promise((resolvePromise, reject) => {
    let output = ''
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /open (http:\/\/\S+)/.exec(output)
      if (match) resolvePromise({ child, url: match[1]!, output: () => output })
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    // At 'close', once its output is all read: at 'exit' the refusal's line may still be in the pipe, unread (a CI run
    // got "server exited with 1: " and nothing after it).
    child.once('close', (code) => reject(new Error(`server exited with ${code}: ${output}`)))
  })
}

/** Whether process `pid` is alive (signal 0: checked, not sent). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((r) => child.once('exit', (code) => r(code)))
}

/**
 * The child's exit code once its output is all read too ('close'): `exited`'s 'exit' may come while its last lines are
 * still in its pipes, unread. 'close' also waits for any other process holding those pipes (a grandchild given them).
 */
export function closed(child: ChildProcess): Promise<number | null> {
  const open = [child.stdout, child.stderr].some((stream) => stream !== null && !stream.closed)
  if (!open && (child.exitCode !== null || child.signalCode !== null)) return Promise.resolve(child.exitCode)
  return new Promise((r) => child.once('close', (code) => r(code)))
}
