import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import { PresenceTracker } from '../../server/realtime/presence'
import { capturedLog } from '../support/capturedLog'
import {
  ALICE,
  connect,
  freshDataDir,
  isAlive,
  killSpawned,
  login,
  repoRoot,
  spawnMain,
  startTestServer,
  untyped,
} from './support/server'

// A deploy stops the server (SIGTERM → `close()`) while requests are on their way: it stops taking new ones and
// answers those it has, rather than cutting their connections (the client could not tell whether its write was kept).

it('answers a request under way when it is closed, and stops taking new connections', async () => {
  const server = await startTestServer()
  const httpServer = server.io.httpServer
  const { token } = await login(server.url, ALICE)
  const body = JSON.stringify({ content: 'sent as the deploy begins', clientId: randomUUID() })
  const cut = body.length >> 1
  const received = new Promise<void>((resolve) => httpServer.once('request', () => resolve()))
  const answer = new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
    const req = request(`${server.url}/api/conversations/conv-alice-bob/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    })
    req.on('response', (response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => (text += chunk.toString()))
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body: text }),
      )
    })
    req.on('error', reject)
    req.write(body.slice(0, cut))
    // Its headers are in: the request is under way when the server starts closing, the rest of its body comes after.
    void received.then(async () => {
      const closing = server.close()
      await vi.waitFor(() => expect(httpServer.listening).toBe(false), { timeout: 10_000 })
      req.end(body.slice(cut))
      await closing
    })
  })
  const { status, connection, body: text } = await answer
  expect(status).toBe(201)
  // Not kept alive: an idle connection would hold the close until the client let it go.
  expect(connection).toBe('close')
  expect(JSON.parse(text)).toMatchObject({ content: 'sent as the deploy begins' })
  await server.dispose()
})

it('closes alone within its bound when recording who was online gets no answer from the database, saying so', async () => {
  const log = capturedLog('warn')
  const server = await startTestServer({ logger: log.logger })
  const { token } = await login(server.url, ALICE)
  const socket = await connect(server.url, token)
  // The database never answers the close's write of who went (a partition, a lock that is never let go).
  const hung = vi.spyOn(PresenceTracker.prototype, 'closing').mockReturnValue(new Promise<void>(() => undefined))
  try {
    await server.dispose()
    expect(hung).toHaveBeenCalledTimes(1)
    expect(log.lines().map((line) => line.msg)).toContain(
      'recording who went at the close took over 2 s: closing without it',
    )
    expect(server.io.httpServer.listening).toBe(false)
  } finally {
    hung.mockRestore()
    socket.close()
  }
})

// A deploy's SIGTERM while a socket's sends were on their way: the transports closed, then the database closed under
// the handlers still running, each failing as "socket handler failed: the database thread stopped" at level error: a
// page at every deploy, and sends cut off in the middle. They are let finish (their acks go nowhere: the client sends
// again on its next connection, and the server's idempotency answers with what was stored).
it('lets the socket handlers under way finish before the database closes, logging no error', async () => {
  const log = capturedLog('warn')
  // What is checked is that the close waits for them, not how fast a busy machine runs them (its 2 s by default).
  const server = await startTestServer({ logger: log.logger, closeGraceMs: 120_000 })
  const { token } = await login(server.url, ALICE)
  const socket = await connect(server.url, token)
  let acks = 0
  let closing: Promise<void> | undefined
  const sends = Array.from({ length: 200 }, (_, i) =>
    untyped(socket)
      .timeout(10_000)
      .emitWithAck('message:send', { conversationId: 'conv-alice-bob', content: `burst ${i}`, clientId: randomUUID() })
      .then(
        () => {
          // The first answers are in: the rest of the burst is with the handlers when the close begins.
          if (++acks === 5) closing = server.close()
        },
        () => undefined,
      ),
  )
  await Promise.all(sends)
  await closing
  socket.close()
  expect(acks).toBeGreaterThanOrEqual(5)
  expect(log.lines().filter((line) => line.level >= 50)).toEqual([])
  expect(log.lines().map((line) => line.msg)).not.toContain(
    'socket events under way took over 120 s to finish: closing without them',
  )
  rmSync(server.dataDir, { recursive: true, force: true })
}, 150_000)

// A request whose body never comes (a phone gone into a tunnel mid-upload, a trickle) held the close for the whole
// request timeout (30 s): `npm start` gives the close 10 s, then exited 1 without a word, the database still open.
it('closes within its bound when a request under way never finishes arriving, saying so', async () => {
  const log = capturedLog('warn')
  const server = await startTestServer({ logger: log.logger, requestTimeoutMs: 120_000 })
  const httpServer = server.io.httpServer
  const received = new Promise<void>((resolve) => httpServer.once('request', () => resolve()))
  const req = request(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': 100 },
  })
  const cut = new Promise<void>((resolve) => req.on('error', () => resolve()))
  req.write('{"email":')
  await received
  await server.dispose()
  await cut
  expect(log.lines().map((line) => line.msg)).toContain(
    'HTTP requests under way took over 3 s to finish: closing their connections',
  )
})

/**
 * `npm start`'s server on `dataDir` with JSON logs at info, once it serves; `exit`: its code and signal ("0 null"),
 * once its output is all read ('close': 'exit' may come before its last lines are read from its pipes).
 */
async function jsonMain(dataDir: string, env: Record<string, string> = {}) {
  const { child, output } = await spawnMain({
    DATA_DIR: dataDir,
    PORT: '0',
    SKIP_SPA_BUILD: '1',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...env,
  })
  const exit = new Promise<string>((resolve) => child.once('close', (code, signal) => resolve(`${code} ${signal}`)))
  return { child, output, exit }
}

// The terminal `npm start` runs in is closed (an ssh session dropped, a tmux window killed): SIGHUP, which Node leaves
// to its default, killed the server on the spot, its database and its users' presence never closed.
it('npm start closes cleanly on a hangup, as on SIGTERM', async () => {
  const dataDir = freshDataDir()
  try {
    const { child, output, exit } = await jsonMain(dataDir)
    child.kill('SIGHUP')
    // The terminal's hangup reaches the foreground group, and the shell that dies with it sends its jobs one more: a
    // second hangup is not a person asking again to exit at once.
    await vi.waitFor(() => expect(output()).toContain('"msg":"shutting down"'), { timeout: 10_000 })
    child.kill('SIGHUP')
    expect(await exit, output()).toBe('0 null')
    expect(output()).toContain('"msg":"server closed"')
  } finally {
    await killSpawned()
    rmSync(dataDir, { recursive: true, force: true })
  }
})

// A close that does not finish within `npm start`'s 10 s (a database or Redis that never answers its goodbye) ended the
// process with exit code 1 and no word: the operator saw "shutting down", then nothing, and could not tell a forced exit
// from a crash.
it('npm start says why when it forces its exit after 10 s of closing', async () => {
  const dataDir = freshDataDir()
  try {
    const { child, output, exit } = await jsonMain(dataDir, {
      NODE_OPTIONS: `--import tsx --import ${join(repoRoot, 'tests/server/support/hangHttpClose.mjs')}`,
    })
    child.kill('SIGTERM')
    expect(await exit, output()).toBe('1 null')
    expect(output()).toMatch(/"level":50,.*"msg":"the close took over 10 s: exiting without finishing it/)
  } finally {
    await killSpawned()
    rmSync(dataDir, { recursive: true, force: true })
  }
})

// `npm start` runs the server under a shell: a SIGTERM to npm (a supervisor that signals the pid it started, a `kill`
// of npm's pid) was passed to that shell, which ended at once, and npm with it; the server ran on, reparented, holding
// its port and data folder, with nothing left to stop it.
it('npm start: the server closes when npm is stopped by a signal to it alone', async () => {
  const dataDir = freshDataDir()
  const npm = spawn('npm', ['start'], {
    cwd: repoRoot,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own group, for the cleanup below: the signal under test goes to npm alone.
    detached: true,
  })
  let output = ''
  let server: number | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (/open http/.test(output)) resolve()
      }
      npm.stdout.on('data', onData)
      npm.stderr.on('data', onData)
      npm.once('exit', () => reject(new Error(`npm exited before serving:\n${output}`)))
    })
    server = Number(/"pid":(\d+),"msg":"starting"/.exec(output)?.[1])
    expect(server).toBeGreaterThan(0)
    const npmExit = new Promise<void>((resolve) => npm.once('exit', () => resolve()))
    npm.kill('SIGTERM')
    await npmExit
    await expect.poll(() => isAlive(server!), { timeout: 30_000 }).toBe(false)
    await vi.waitFor(() => expect(output).toContain('"msg":"server closed"'), { timeout: 10_000 })
  } finally {
    for (const pid of [server, -npm.pid!])
      if (pid !== undefined)
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone already
        }
    rmSync(dataDir, { recursive: true, force: true })
  }
}, 120_000)
