import { execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisRunnable, requireParts, startRedis, type RedisServer } from '../cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { openDatabase, seedIfNew } from '../../server/db'
import { PasswordHasher } from '../../server/passwords'
import { exited, repoRoot } from '../server/support/server'

// `npm run cluster` in a terminal, stopped with Ctrl-C: the terminal sends SIGINT to its whole foreground process group,
// the script and its two nodes alike. The script then sent each node a SIGTERM of its own, which the node (closing
// since the SIGINT) took for a second signal and exited at once ("second signal: exiting now"), its close cut off; and
// the script exited without waiting for them, so whatever they said while closing went nowhere.
const ready = requireParts('tests/scripts/cluster.test.ts', [postgresRunnable(), redisRunnable()])

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

  it('closes both nodes cleanly, says so, and exits once they have', async () => {
    // In a process group of its own, as a terminal's foreground job is.
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: postgres.createDatabase('talemy_cluster_script'),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exit = exited(script)
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => /Talemy cluster: open/.test(output) && resolve()
        script.stdout.on('data', check)
        void exit.then(() => reject(new Error(`exited before serving:\n${output}`)))
      })
      // Serving through the balancer: the script is past its start, as a person pressing Ctrl-C finds it.
      const url = /Talemy cluster: open (http:\/\/\S+)/.exec(output)![1]!
      expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(-script.pid!, 'SIGINT')
      expect(await exit, output).toBe(0)
      for (const node of ['a', 'b']) expect(output, output).toMatch(new RegExp(`\\[${node}\\] .*"msg":"server closed"`))
      expect(output).not.toContain('second signal')
    } finally {
      try {
        process.kill(-script.pid!, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  })

  // The nodes run in sessions of their own (no terminal's Ctrl-C reaches them): the script killed outright (SIGKILL, an
  // OOM kill, a supervisor's last resort) left both running, holding their ports and connections, with nothing to stop them.
  it('stops its nodes when it is killed outright', async () => {
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: postgres.createDatabase('talemy_cluster_script_killed'),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exit = exited(script)
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    let nodes: number[] = []
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => /Talemy cluster: open/.test(output) && resolve()
        script.stdout.on('data', check)
        void exit.then(() => reject(new Error(`exited before serving:\n${output}`)))
      })
      nodes = execFileSync('pgrep', ['-P', String(script.pid), '-f', 'server/main.ts'], { encoding: 'utf8' })
        .split('\n')
        .map(Number)
        .filter((pid) => pid > 0)
      expect(nodes).toHaveLength(2)
      script.kill('SIGKILL')
      await exit
      await expect.poll(() => nodes.filter(alive), { timeout: 30_000 }).toEqual([])
    } finally {
      for (const pid of [...nodes, script.pid])
        if (pid !== undefined && alive(pid)) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // gone already
          }
        }
    }
  })

  // A node that died once the cluster served (killed by the OOM killer, a crash) went unnoticed: the balancer dropped it
  // and the script ran on with half a cluster, saying nothing and exiting 0 at the next Ctrl-C. It now says which node
  // ended and how, and serves on the other; the last one ending stops it, exit 1, for its supervisor to restart it.
  it('says so when a node dies after the start, serves on the other, and exits 1 when none is left', async () => {
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: postgres.createDatabase('talemy_cluster_script_dies'),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exit = exited(script)
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    let nodes: number[] = []
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => /Talemy cluster: open/.test(output) && resolve()
        script.stdout.on('data', check)
        void exit.then(() => reject(new Error(`exited before serving:\n${output}`)))
      })
      nodes = execFileSync('pgrep', ['-P', String(script.pid), '-f', 'server/main.ts'], { encoding: 'utf8' })
        .split('\n')
        .map(Number)
        .filter((pid) => pid > 0)
      expect(nodes).toHaveLength(2)
      const url = /Talemy cluster: open (http:\/\/\S+)/.exec(output)![1]!
      process.kill(nodes[0]!, 'SIGKILL')
      await new Promise<void>((resolve) => {
        const check = () => /while serving: the cluster serves on the other node alone/.test(output) && resolve()
        script.stderr.on('data', check)
        check()
      })
      expect(output).toMatch(
        /node [ab] ended \(signal SIGKILL\) while serving: the cluster serves on the other node alone/,
      )
      // Every request reaches the node left (round-robin would have sent every other one to the dead node).
      for (let i = 0; i < 4; i++) expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(nodes[1]!, 'SIGKILL')
      expect(await exit, output).toBe(1)
      expect(output).toMatch(/node [ab] ended \(signal SIGKILL\) and no node is left: stopping the cluster/)
      expect(nodes.filter(alive)).toEqual([])
    } finally {
      for (const pid of [...nodes, script.pid])
        if (pid !== undefined && alive(pid)) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // gone already
          }
        }
    }
  })

  // HOST was not read: the balancer listened on 127.0.0.1 whatever it said, so a cluster meant for the network (or
  // for IPv6) could not be reached there.
  it('listens on HOST', async () => {
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: postgres.createDatabase('talemy_cluster_script_host'),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        HOST: '::1',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exit = exited(script)
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => /Talemy cluster: open/.test(output) && resolve()
        script.stdout.on('data', check)
        void exit.then(() => reject(new Error(`exited before serving:\n${output}`)))
      })
      const url = /Talemy cluster: open (http:\/\/\S+)/.exec(output)![1]!
      expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/)
      expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(-script.pid!, 'SIGINT')
      expect(await exit, output).toBe(0)
    } finally {
      try {
        process.kill(-script.pid!, 'SIGKILL')
      } catch {
        // gone already
      }
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
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        HOST: '0.0.0.0',
        SEED_DEMO: '',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    try {
      expect(await exited(script), output).toBe(1)
      expect(output).toContain('Talemy could not start: the database holds demo accounts')
      expect(output).not.toContain('Talemy cluster: open')
    } finally {
      try {
        process.kill(-script.pid!, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  })

  // A node that ends before listening (killed, out of connections) makes the script exit with an error: the node
  // started before it, in a session of its own since d2fe217 (no terminal's Ctrl-C or hangup reaches it), was left
  // running, holding its port and connections, with nothing to stop it.
  it('stops the node already started when the next one fails to start', async () => {
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: postgres.createDatabase('talemy_cluster_script_fail'),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    const exit = exited(script)
    let nodeA: number | undefined
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    try {
      // Node b is killed as soon as it is spawned, long before it listens.
      const killedB = new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          if (nodeA !== undefined) return
          if (!/\[a\] .*open http:/.test(output)) return
          const nodes = () =>
            execFileSync('pgrep', ['-P', String(script.pid), '-f', 'server/main.ts'], { encoding: 'utf8' })
              .split('\n')
              .map(Number)
              .filter((pid) => pid > 0)
          nodeA = nodes()[0]
          const findB = () => {
            const b = nodes().find((pid) => pid !== nodeA)
            if (b === undefined) return void setImmediate(findB)
            process.kill(b, 'SIGKILL')
            resolve()
          }
          findB()
        }
        script.stdout.on('data', onData)
        script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
        void exit.then(() => reject(new Error(`exited before node b started:\n${output}`)))
      })
      await killedB
      expect(await exit, output).not.toBe(0)
      expect(output).toMatch(/node b exited/)
      expect(alive(nodeA!), output).toBe(false)
    } finally {
      for (const pid of [nodeA, script.pid])
        if (pid !== undefined && alive(pid)) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // gone already
          }
        }
    }
  })
})

// The balancer's port was read with `Number()` and listened on as it came: a port taken (an `npm start` already on
// 3000) or a typo ended the script with Node's stack trace ("EADDRINUSE …", "ERR_SOCKET_BAD_PORT"), never naming PORT.
describe('npm run cluster (scripts/cluster.ts) with a PORT it cannot listen on', { timeout: 60_000 }, () => {
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
    const code = await exited(script)
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
