import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A throwaway PostgreSQL cluster in a temp folder, for the `DATABASE_URL` path. Uses Debian's binaries
 * (`/usr/lib/postgresql/<version>/bin`) or `initdb`/`pg_ctl` on PATH, or the folder in POSTGRES_BIN; as root, runs them
 * as the `postgres` user.
 */
export interface PostgresCluster {
  url: string
  /** A fresh, empty database on the cluster. */
  createDatabase(name: string): string
  stop(): void
}

export function findPostgresBin(): { bin?: string; reason?: string } {
  // POSTGRES_BIN picks the folder of initdb/pg_ctl explicitly (and only it).
  const forced = process.env.POSTGRES_BIN
  if (forced) {
    return existsSync(join(forced, 'initdb')) ? { bin: forced } : { reason: `POSTGRES_BIN=${forced} has no initdb` }
  }
  const debian = '/usr/lib/postgresql'
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((version) => existsSync(join(debian, version, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return { bin: join(debian, versions[0], 'bin') }
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' })
  const initdb = which.stdout.trim()
  if (which.status === 0 && initdb) return { bin: join(initdb, '..') }
  return { reason: 'no PostgreSQL binaries (initdb/pg_ctl) in /usr/lib/postgresql/*/bin or on PATH' }
}

const isRoot = process.getuid?.() === 0

export function postgresRunnable(): { ok: boolean; reason?: string } {
  const found = findPostgresBin()
  if (!found.bin) return { ok: false, reason: found.reason }
  if (isRoot && spawnSync('id', ['-u', 'postgres']).status !== 0) {
    return { ok: false, reason: 'running as root and there is no postgres user to run PostgreSQL as' }
  }
  return { ok: true }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export async function startPostgres(): Promise<PostgresCluster> {
  const { bin } = findPostgresBin()
  if (!bin) throw new Error('no PostgreSQL binaries')
  const dir = mkdtempSync(join(tmpdir(), 'talemy-pg-'))
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
  }
  const run = (tool: string, args: string[]) => {
    const command = isRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args]
    const result = spawnSync(command[0] as string, command[1] as string[], { encoding: 'utf8', cwd: dir })
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr || result.stdout}`)
    return result.stdout
  }
  const data = join(dir, 'data')
  const port = await freePort()
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'])
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-t',
    '30',
    '-o',
    `-k ${dir} -p ${port} -h 127.0.0.1 -c fsync=off -c full_page_writes=off`,
    'start',
  ])
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
  return {
    url: urlFor('postgres'),
    createDatabase(name) {
      run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', `create database ${name}`])
      return urlFor(name)
    },
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
