/**
 * `npm run cluster`: two server nodes behind the repo's TCP balancer, on a local PostgreSQL and Redis given by
 * DATABASE_URL and REDIS_URL. PORT (default 3000) is the balancer's; the nodes take free ports. Clients connect to the
 * balancer with `transports: ['websocket']` (no sticky sessions). Ctrl-C stops everything.
 *
 * @example DATABASE_URL=postgres://localhost/talemy REDIS_URL=redis://127.0.0.1:6379 npm run cluster
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBalancer } from '../server/cluster/balancer'
import { parsePort } from '../server/envConfig'
import { explainListenError } from '../server/port'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const missing = ['DATABASE_URL', 'REDIS_URL'].filter((name) => !process.env[name])
if (missing.length > 0) {
  process.stderr.write(
    `\nnpm run cluster needs ${missing.join(' and ')}: two nodes share one PostgreSQL and one Redis.\n` +
      `  e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/talemy REDIS_URL=redis://127.0.0.1:6379 npm run cluster\n` +
      `  (Debian: apt-get install postgresql redis-server; start them, create the database)\n\n`,
  )
  process.exit(1)
}

// The balancer first: the nodes must allow the page's origin, which is the balancer's. A PORT it cannot listen on is
// one sentence naming it, as `npm start` says it, not Node's stack trace.
const balancer = await (async () => {
  try {
    const port = parsePort(process.env.PORT)
    return await startBalancer([], port).catch((error: unknown) => {
      throw explainListenError(error, port, '127.0.0.1')
    })
  } catch (error) {
    process.stderr.write(
      `\nnpm run cluster could not start: ${error instanceof Error ? error.message : String(error)}\n\n`,
    )
    process.exit(1)
  }
})()
const allowedOrigins =
  process.env.ALLOWED_ORIGINS || `http://localhost:${balancer.port},http://127.0.0.1:${balancer.port}`

/** The nodes started so far; `stop` signals them and waits for them. */
const nodes: ChildProcess[] = []

/** Whether the node's process has ended. */
const ended = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

let stopping = false
/** `code`: the script's exit code once the nodes have gone. */
const stop = (code = 0) => {
  // A second Ctrl-C is passed on as a second signal: the nodes then exit at once.
  for (const child of nodes) if (!ended(child)) child.kill('SIGTERM')
  if (stopping) return
  stopping = true
  // Exits once the nodes have: exiting first cut the pipe their closing lines went to, and a node whose log then
  // failed to write as it exited hung there for good (pino's exit flush retries a broken pipe), still holding its
  // connections.
  const exits = nodes.map(
    (child) => new Promise<void>((resolve) => (ended(child) ? resolve() : child.once('exit', () => resolve()))),
  )
  void Promise.all(exits)
    .then(() => balancer.close())
    .then(() => process.exit(code))
}
// Before any node starts: a stop during the start closes those started, and none is left behind.
process.on('SIGINT', () => stop())
process.on('SIGTERM', () => stop())
process.on('SIGHUP', () => stop())

function startNode(name: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ALLOWED_ORIGINS: allowedOrigins },
    // The IPC channel: it closes when this script ends, however it ends (a SIGKILL too), and the node then closes
    // itself (server/main.ts); nothing else would stop it, in its process group of its own.
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    // A process group of its own: a terminal's Ctrl-C reaches the whole foreground group, and the node, closing since
    // that SIGINT, took this script's SIGTERM that followed for a second signal and exited at once. Only `stop` signals it.
    detached: true,
  })
  nodes.push(child)
  return new Promise((resolvePromise, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk
      for (const line of chunk.toString().split('\n')) if (line.trim()) process.stdout.write(`[${name}] ${line}\n`)
      const found = /open http:\/\/([\d.]+:\d+)/.exec(output)
      if (found) resolvePromise({ child, address: found[1]! })
    })
    // Stopped during its start: `stop` exits once it has gone.
    child.once('exit', (code) => stopping || reject(new Error(`node ${name} exited (${code}) before listening`)))
  })
}

// One after the other: the first migrates (and builds the SPA if needed), the second finds it done.
// A node that ends before listening stops those started: in a session of their own, nothing else would.
const started = async (name: string) =>
  startNode(name).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    stop(1)
    return new Promise<never>(() => {})
  })
const a = await started('a')
const b = stopping ? a : await started('b')
if (!stopping) {
  balancer.backends.push(a.address, b.address)
  process.stdout.write(`\n  Talemy cluster: open ${balancer.url} (nodes ${a.address}, ${b.address})\n\n`)
}
