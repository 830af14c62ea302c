import { execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisRunnable, requireParts, startRedis, type RedisServer } from '../cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { openDatabase, seedIfNew } from '../../server/db'
import { PasswordHasher } from '../../server/passwords'
import { failedBuildNote } from '../../server/spa'
import { closed, exited, isAlive, repoRoot } from '../server/support/server'

// `npm run cluster` in a terminal, stopped with Ctrl-C: the terminal sends SIGINT to its whole foreground process group,
// the script and its two nodes alike. The script then sent each node a SIGTERM of its own, which the node (closing
// since the SIGINT) took for a second signal and exited at once ("second signal: exiting now"), its close cut off; and
// the script exited without waiting for them, so whatever they said while closing went nowhere.
const ready = requireParts('tests/scripts/cluster.test.ts', [postgresRunnable(), redisRunnable()])

/** Signals `pid` (a negative one: its process group), if it is still there. */
const killIfThere = (pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL') => {
  if (pid === undefined) return
  try {
    process.kill(pid, signal)
  } catch {
    // gone already
  }
}

/**
 * `npm run cluster` on `databaseUrl` and the test's Redis, in a process group of its own (as a terminal's foreground
 * job is), with `env` over the defaults (PORT=0, no SPA build, JSON logs at info): its output as it comes, its exit
 * code, the URL once it serves, its nodes' pids, and `dispose`, which kills it and its nodes if they are there.
 */
function clusterScript(databaseUrl: string, redisUrl: string, env: Record<string, string> = {}) {
  const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
    cwd: repoRoot,
    detached: true,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
      PORT: '0',
      SKIP_SPA_BUILD: '1',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const heard = new Set<() => void>()
  const take = (chunk: Buffer) => {
    output += chunk.toString()
    for (const check of heard) check()
  }
  script.stdout.on('data', take)
  script.stderr.on('data', take)
  // The exit code once its output is all read: 'exit' may come before the script's last lines are read from its pipes
  // (a CI run missed "node b exited …", written to stderr as it stopped), 'close' comes after them, and after its
  // nodes, which write to its stderr, have gone.
  const exit = new Promise<number | null>((resolve) => script.once('close', (code) => resolve(code)))
  /** The script's own process gone (its nodes perhaps not: they close by themselves once its IPC channel is gone). */
  const gone = exited(script)
  /** Resolves once the output matches `pattern`; fails if the script exits first. */
  const said = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return
        heard.delete(check)
        resolve()
      }
      heard.add(check)
      check()
      void exit.then(() => reject(new Error(`exited before saying ${pattern}:\n${output}`)))
    })
  const nodes = () =>
    execFileSync('pgrep', ['-P', String(script.pid), '-f', 'server/main.ts'], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0)
  const known = new Set<number>()
  return {
    script,
    output: () => output,
    exit,
    gone,
    said,
    /** The balancer's URL, once the cluster serves. */
    serving: async () => {
      await said(/Talemy cluster: open/)
      return /Talemy cluster: open (http:\/\/\S+)/.exec(output)![1]!
    },
    /** The nodes running now (remembered for `dispose`). */
    nodes: () => {
      const now = nodes()
      for (const pid of now) known.add(pid)
      return now
    },
    dispose: () => {
      killIfThere(-script.pid!)
      for (const pid of [...known, script.pid]) if (pid !== undefined && isAlive(pid)) killIfThere(pid)
    },
  }
}

describe.runIf(ready)('npm run cluster (scripts/cluster.ts) stopped by Ctrl-C', { timeout: 180_000 }, () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  })
  afterAll(async () => {
    await redis?.stop()
    postgres?.stop()
  })
  const cluster = (database: string, env?: Record<string, string>) =>
    clusterScript(postgres.createDatabase(database), redis.url, env)

  it('closes both nodes cleanly, says so, and exits once they have', async () => {
    const run = cluster('talemy_cluster_script')
    try {
      // Serving through the balancer: the script is past its start, as a person pressing Ctrl-C finds it.
      const url = await run.serving()
      expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(-run.script.pid!, 'SIGINT')
      expect(await run.exit, run.output()).toBe(0)
      for (const node of ['a', 'b'])
        expect(run.output(), run.output()).toMatch(new RegExp(`\\[${node}\\] .*"msg":"server closed"`))
      expect(run.output()).not.toContain('second signal')
    } finally {
      run.dispose()
    }
  })

  // Each node's start line was passed on as it came: "[a]   Talemy is running: open http://127.0.0.1:<its port>", then
  // the same for b, before the cluster's line. Whoever opened a node's URL got the page, and its login refused 403: the
  // nodes allow only the balancer's origin. Only the cluster's URL is said to be opened now.
  it("names only the balancer's URL to open, not a node's own", async () => {
    const run = cluster('talemy_cluster_script_open')
    try {
      const url = await run.serving()
      const opens = [...run.output().matchAll(/open (http:\/\/[^\s)]+)/g)].map((found) => found[1])
      expect(opens, run.output()).toEqual([url])
      expect(run.output()).toMatch(/\[a\] .*listening on 127\.0\.0\.1:\d+ behind the balancer/)
    } finally {
      run.dispose()
    }
  })

  // A failed SPA build leaves the nodes serving the previous dist/ (or none). Each node's open line says so since
  // 1356424, but the script rewrote those lines ("listening on … behind the balancer") and its own "Talemy cluster:
  // open …" said nothing: the user opened an out-of-date page, or a 404, without a word.
  it('says on its open line that the SPA build failed, and which page is served', async () => {
    const index = join(repoRoot, 'dist', 'index.html')
    const previous = existsSync(index) ? statSync(index).mtimeMs : undefined
    // A build-time variable no build was made with: the SPA is built, whatever `dist/` holds; the build fails.
    const run = cluster('talemy_cluster_script_failed_build', {
      SKIP_SPA_BUILD: '',
      VITE_TALEMY_TEST_STAMP: randomUUID(),
      NODE_OPTIONS: `--import ${join(repoRoot, 'tests/server/support/failViteBuild.mjs')}`,
    })
    try {
      await run.serving()
      expect(run.output()).toContain('vite build failed')
      const notes = run.output().match(/the SPA build failed/g) ?? []
      expect(notes, run.output()).toHaveLength(1)
      expect(run.output()).toMatch(/^\s*Talemy cluster: open http:\/\/\S+ \(nodes [^)]+\), but the SPA build failed/m)
      expect(run.output()).toContain(`, but ${failedBuildNote(previous)}`)
    } finally {
      run.dispose()
    }
  })

  // The nodes run in sessions of their own (no terminal's Ctrl-C reaches them): the script killed outright (SIGKILL, an
  // OOM kill, a supervisor's last resort) left both running, holding their ports and connections, with nothing to stop them.
  it('stops its nodes when it is killed outright', async () => {
    const run = cluster('talemy_cluster_script_killed')
    try {
      await run.serving()
      const nodes = run.nodes()
      expect(nodes).toHaveLength(2)
      run.script.kill('SIGKILL')
      await run.gone
      await expect.poll(() => nodes.filter(isAlive), { timeout: 30_000 }).toEqual([])
    } finally {
      run.dispose()
    }
  })

  // A node that died once the cluster served (killed by the OOM killer, a crash) went unnoticed: the balancer dropped it
  // and the script ran on with half a cluster, saying nothing and exiting 0 at the next Ctrl-C. It now says which node
  // ended and how, and serves on the other; the last one ending stops it, exit 1, for its supervisor to restart it.
  it('says so when a node dies after the start, serves on the other, and exits 1 when none is left', async () => {
    const run = cluster('talemy_cluster_script_dies')
    try {
      const url = await run.serving()
      const nodes = run.nodes()
      expect(nodes).toHaveLength(2)
      process.kill(nodes[0]!, 'SIGKILL')
      await run.said(/node [ab] ended \(signal SIGKILL\) while serving: the cluster serves on the other node alone/)
      // Every request reaches the node left (round-robin would have sent every other one to the dead node).
      for (let i = 0; i < 4; i++) expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(nodes[1]!, 'SIGKILL')
      expect(await run.exit, run.output()).toBe(1)
      expect(run.output()).toMatch(/node [ab] ended \(signal SIGKILL\) and no node is left: stopping the cluster/)
      expect(nodes.filter(isAlive)).toEqual([])
    } finally {
      run.dispose()
    }
  })

  // HOST was not read: the balancer listened on 127.0.0.1 whatever it said, so a cluster meant for the network (or
  // for IPv6) could not be reached there.
  it('listens on HOST', async () => {
    const run = cluster('talemy_cluster_script_host', { HOST: '::1' })
    try {
      const url = await run.serving()
      expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/)
      expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(-run.script.pid!, 'SIGINT')
      expect(await run.exit, run.output()).toBe(0)
    } finally {
      run.dispose()
    }
  })

  // On a HOST reachable from the network the nodes check what `npm start` checks there: behind a balancer on 0.0.0.0,
  // nodes on 127.0.0.1 would take themselves for a developer's machine and serve demo accounts whose published
  // password still opens them.
  it('on a HOST reachable from the network, refuses demo accounts whose published password still opens them', async () => {
    const databaseUrl = postgres.createDatabase('talemy_cluster_script_exposed')
    const db = await openDatabase({ databaseUrl, dataDir: '' })
    try {
      await seedIfNew(db, new PasswordHasher())
    } finally {
      await db.close()
    }
    const run = clusterScript(databaseUrl, redis.url, { HOST: '0.0.0.0', SEED_DEMO: '', LOG_LEVEL: 'warn' })
    try {
      expect(await run.exit, run.output()).toBe(1)
      expect(run.output()).toContain('Talemy could not start: the database holds demo accounts')
      expect(run.output()).not.toContain('Talemy cluster: open')
    } finally {
      run.dispose()
    }
  })

  // A node that ends before listening (killed, out of connections) makes the script exit with an error: the node
  // started before it, in a session of its own since d2fe217 (no terminal's Ctrl-C or hangup reaches it), was left
  // running, holding its port and connections, with nothing to stop it.
  it('stops the node already started when the next one fails to start', async () => {
    const run = cluster('talemy_cluster_script_fail')
    try {
      // Node b is killed as soon as it is spawned, long before it listens.
      let ended = false
      void run.exit.then(() => (ended = true))
      await run.said(/\[a\] .*listening on .* behind the balancer/)
      const nodeA = run.nodes()[0]!
      for (;;) {
        if (ended) throw new Error(`exited before node b started:\n${run.output()}`)
        const b = run.nodes().find((pid) => pid !== nodeA)
        if (b !== undefined) {
          process.kill(b, 'SIGKILL')
          break
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      expect(await run.exit, run.output()).not.toBe(0)
      expect(run.output()).toMatch(/node b exited/)
      expect(isAlive(nodeA), run.output()).toBe(false)
    } finally {
      run.dispose()
    }
  })
})

// The balancer's port was read with `Number()` and listened on as it came: a port taken (an `npm start` already on
// 3000) or a typo ended the script with Node's stack trace ("EADDRINUSE …", "ERR_SOCKET_BAD_PORT"), never naming PORT.
describe('npm run cluster (scripts/cluster.ts) with a PORT it cannot listen on', () => {
  const run = async (port: string) => {
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      // Never reached: the balancer's port is refused first.
      env: {
        ...process.env,
        DATABASE_URL: 'postgres://127.0.0.1:1/none',
        REDIS_URL: 'redis://127.0.0.1:1',
        PORT: port,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    // Once its output is all read: its sentence is the last thing it writes, and may be unread at its 'exit'.
    const code = await closed(script)
    return { code, output }
  }

  it('a port in use: one line naming it and PORT, no stack', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as { port: number }
    try {
      const { code, output } = await run(String(port))
      expect(code).toBe(1)
      expect(output).toContain(
        `port ${port} on 127.0.0.1 is in use (another Talemy, or another program): stop it, or set PORT`,
      )
      expect(output).not.toMatch(/\n\s+at /)
    } finally {
      holder.close()
    }
  })

  it('PORT=abc: one line naming PORT, no stack', async () => {
    const { code, output } = await run('abc')
    expect(code).toBe(1)
    expect(output).toContain('PORT must be a whole number from 0 to 65535, got "abc"')
    expect(output).not.toMatch(/\n\s+at /)
  })
})
