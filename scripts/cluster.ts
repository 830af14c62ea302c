/**
 * `npm run cluster`: two server nodes behind the repo's TCP balancer, on a local PostgreSQL and Redis given by
 * DATABASE_URL and REDIS_URL. PORT (default 3000) and HOST (default 127.0.0.1) are the balancer's; the nodes take free
 * ports, on 127.0.0.1 (on HOST when it is not loopback). Clients connect to the balancer with
 * `transports: ['websocket']` (no sticky sessions). Ctrl-C stops everything; a node that ends while serving leaves the
 * balancer and the other serves alone; once no node is left the script stops and exits 1.
 *
 * @example DATABASE_URL=postgres://localhost/talemy REDIS_URL=redis://127.0.0.1:6379 npm run cluster
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBalancer } from '../server/cluster/balancer'
import { isLoopbackHost } from '../server/db/seed'
import { parseHost, parsePort } from '../server/envConfig'
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

// The balancer first: the nodes must allow the page's origin, which is the balancer's. A PORT or HOST it cannot listen
// on is one sentence naming it, as `npm start` says it, not Node's stack trace.
const host = (() => {
  try {
    return parseHost(process.env.HOST)
  } catch (error) {
    process.stderr.write(`\nnpm run cluster could not start: ${(error as Error).message}\n\n`)
    process.exit(1)
  }
})()
const balancer = await (async () => {
  try {
    const port = parsePort(process.env.PORT)
    return await startBalancer([], port, host).catch((error: unknown) => {
      throw explainListenError(error, port, host)
    })
  } catch (error) {
    process.stderr.write(
      `\nnpm run cluster could not start: ${error instanceof Error ? error.message : String(error)}\n\n`,
    )
    process.exit(1)
  }
})()
const allowedOrigins =
  process.env.ALLOWED_ORIGINS ||
  [...new Set([`http://localhost:${balancer.port}`, `http://127.0.0.1:${balancer.port}`, balancer.url])].join(',')
// The nodes behind a balancer on loopback stay on it. On another HOST they listen there too: a node checks what a
// HOST reachable from the network asks (demo accounts whose published password still opens them stop its start),
// which it would skip on 127.0.0.1 with the balancer serving the network in front of it.
const nodeHost = isLoopbackHost(host) ? '127.0.0.1' : host

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

/**
 * A node's line as the script passes it on. Its start line names its own URL to open ("Talemy is running: open
 * http://127.0.0.1:<port>"), whose page's requests it refuses (403: the nodes allow only the balancer's origin): said
 * instead is where it listens, behind the balancer, whose URL the script says once both serve.
 */
function echoed(line: string): string {
  const running = /^(\s*)Talemy is running(?:: open http:\/\/| on )(\[[^\]\s]+\]|[^\s:]+):(\d+)/.exec(line)
  if (!running) return line
  return `${running[1]!}listening on ${running[2]!}:${running[3]!} behind the balancer (open the cluster's URL, said once both serve)`
}

/**
 * `failedBuild`: what the node's start line adds after a failed SPA build (server/spa.ts `failedBuildNote`), which
 * `echoed` leaves out of the node's line: the cluster's own line says it, once.
 */
function startNode(name: string): Promise<{ child: ChildProcess; address: string; failedBuild?: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: nodeHost, ALLOWED_ORIGINS: allowedOrigins },
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
    /** The end of the output not yet passed on: a line is passed on whole, so its start line is found in it. */
    let partial = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk
      const lines = (partial + chunk.toString()).split('\n')
      partial = lines.pop()!
      for (const line of lines) if (line.trim()) process.stdout.write(`[${name}] ${echoed(line)}\n`)
      // "open http://127.0.0.1:4711", "open http://[fd00::2]:4711", or with a zone "running on [fe80::1%eth0]:4711":
      // the balancer takes host:port unbracketed. The line whole: a failed build's note ends it.
      const found = /Talemy is running(?:: open http:\/\/| on )(\[[^\]\s]+\]|[^\s:]+):(\d+)(.*)\n/.exec(output)
      if (found)
        resolvePromise({
          child,
          address: `${found[1]!.replace(/^\[(.*)\]$/, '$1')}:${found[2]!}`,
          failedBuild: /, but (the SPA build failed .*)$/.exec(found[3]!)?.[1],
        })
    })
    child.stdout!.on('end', () => {
      if (partial.trim()) process.stdout.write(`[${name}] ${echoed(partial)}\n`)
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
/**
 * A node that ends while the cluster serves (a crash, the OOM killer) is said, naming it and how it ended, and leaves
 * the balancer: the other serves alone (what a second node is for), where the balancer used to drop it without a word.
 * The last one ending stops the script, exit 1, for the supervisor that runs it (systemd's Restart=on-failure, with its
 * backoff and limits) to restart it. Not restarted here: a node that crashes once will likely crash again.
 */
const watch = (name: string, node: { child: ChildProcess; address: string }) =>
  node.child.once('exit', (code, signal) => {
    if (stopping) return
    const at = balancer.backends.indexOf(node.address)
    if (at >= 0) balancer.backends.splice(at, 1)
    const how = signal ? `signal ${signal}` : `exit code ${code}`
    if (balancer.backends.length > 0) {
      process.stderr.write(
        `\nnode ${name} ended (${how}) while serving: the cluster serves on the other node alone\n\n`,
      )
      return
    }
    process.stderr.write(`\nnode ${name} ended (${how}) and no node is left: stopping the cluster\n\n`)
    stop(1)
  })

const a = await started('a')
watch('a', a)
const b = stopping ? a : await started('b')
if (b !== a) watch('b', b)
if (!stopping) {
  balancer.backends.push(a.address, b.address)
  // Both nodes serve the same dist/; b, which builds after a (again, if a's build failed), says what it holds now.
  const note = b.failedBuild ? `, but ${b.failedBuild}` : ''
  process.stdout.write(`\n  Talemy cluster: open ${balancer.url} (nodes ${a.address}, ${b.address})${note}\n\n`)
}
