import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { stablePort } from '../../support/ports'
import { userTmpdir } from '../../support/userTmp'

/**
 * A throwaway PostgreSQL cluster in a temp folder, for the `DATABASE_URL` path. Uses Debian's binaries
 * (`/usr/lib/postgresql/<version>/bin`) or `initdb`/`pg_ctl` on PATH, or the folder in POSTGRES_BIN; as root, runs them
 * as the `postgres` user.
 */
export interface PostgresCluster {
  url: string
  /** A fresh, empty database on the cluster. */
  createDatabase(name: string): string
  /** The URL of database `name` on this cluster. */
  urlFor(name: string): string
  /** A standby of this cluster (`pg_basebackup -R`), started: it streams this one's changes until promoted. */
  replicate(): Promise<PostgresCluster>
  /** Ends a standby's recovery (`pg_ctl promote`); resolves once it accepts writes. */
  promote(): Promise<void>
  /** Stops the server at once, as a crash would, keeping its files for `start`. */
  halt(): void
  start(): void
  /** Stops the server and deletes its files. */
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

export async function startPostgres(): Promise<PostgresCluster> {
  const { bin } = findPostgresBin()
  if (!bin) throw new Error('no PostgreSQL binaries')
  const template = initdbTemplate(bin)
  const dir = ownedTempDir()
  asPostgres(dir, 'cp', ['-a', join(template, 'data'), join(dir, 'data')])
  return launch(bin, dir, await stablePort())
}

/** Synced to disk (no `--no-sync`): the template outlives the run, and a crash must not leave a torn one behind. */
const INITDB_ARGS = ['-A', 'trust', '-U', 'postgres', '-E', 'UTF8']

/**
 * initdb's output, made once for these binaries and copied for each cluster: initdb took 2–3 s of every test file that
 * starts PostgreSQL, a copy a tenth of that. Kept in this user's temp folder across runs, as the server's seeded
 * template is; its name says which binaries and arguments made it. The copies share one system identifier, as clones
 * of a cluster do; no test tells two clusters apart by it.
 */
function initdbTemplate(bin: string): string {
  const version = runTool(bin, tmpdir(), 'initdb', ['--version']).trim()
  const key = createHash('sha256')
    .update(JSON.stringify([bin, version, INITDB_ARGS, isRoot]))
    .digest('hex')
    .slice(0, 16)
  // A folder of this OS user's (as the server's template): another user's may not be readable here. As root, the
  // tools run as `postgres`, which must be able to pass through it whatever the umask made it.
  const base = userTmpdir()
  mkdirSync(base, { recursive: true })
  if (isRoot) chmodSync(base, statSync(base).mode | 0o011)
  const template = join(base, `talemy-pg-template-${key}`)
  const made = () => existsSync(join(template, 'data', 'PG_VERSION'))
  if (made()) return template
  // Made aside and renamed into place whole, so a folder under the template's name is a finished one.
  const building = ownedTempDir(base)
  runTool(bin, building, 'initdb', ['-D', join(building, 'data'), ...INITDB_ARGS])
  try {
    renameSync(building, template)
  } catch (error) {
    // Another test file made it at the same time: keep theirs. A folder under that name that is not a finished one
    // (emptied by a temp cleaner) is replaced, or no run would ever make it again.
    if (!made()) {
      rmSync(template, { recursive: true, force: true })
      try {
        renameSync(building, template)
        return template
      } catch {
        if (!made()) throw error
      }
    }
    rmSync(building, { recursive: true, force: true })
  }
  return template
}

/** A temp folder the PostgreSQL tools may write to (as root, they run as `postgres`). */
function ownedTempDir(base = tmpdir()): string {
  const dir = mkdtempSync(join(base, 'talemy-pg-'))
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
  }
  return dir
}

function runTool(bin: string, dir: string, tool: string, args: string[]): string {
  return asPostgres(dir, join(bin, tool), args)
}

/** Runs `file` in `dir`, as the `postgres` user when this is root (PostgreSQL refuses to run as root). */
function asPostgres(dir: string, file: string, args: string[]): string {
  const command = isRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args]
  const result = spawnSync(command[0] as string, command[1] as string[], { encoding: 'utf8', cwd: dir })
  if (result.status !== 0) throw new Error(`${basename(file)} failed: ${result.stderr || result.stdout}`)
  return result.stdout
}

/** Starts the cluster in `dir`/data on `port` and answers its handle. */
function launch(bin: string, dir: string, port: number): PostgresCluster {
  const data = join(dir, 'data')
  const run = (tool: string, args: string[]) => runTool(bin, dir, tool, args)
  const psql = (sql: string) =>
    run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-tAc', sql]).trim()
  const start = () =>
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
  let running = true
  start()
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
  const halt = () => {
    if (running) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    running = false
  }
  return {
    url: urlFor('postgres'),
    urlFor,
    createDatabase(name) {
      psql(`create database ${name}`)
      return urlFor(name)
    },
    async replicate() {
      const replica = ownedTempDir()
      // The initdb's pg_hba.conf lets replication connections in from 127.0.0.1 (trust).
      runTool(bin, replica, 'pg_basebackup', [
        ...['-D', join(replica, 'data'), '-R', '-X', 'stream', '-c', 'fast', '--no-sync'],
        ...['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'],
      ])
      return launch(bin, replica, await stablePort())
    },
    async promote() {
      run('pg_ctl', ['-D', data, '-w', '-t', '30', 'promote'])
      const deadline = Date.now() + 30_000
      while (psql('select pg_is_in_recovery()') !== 'f') {
        if (Date.now() > deadline) throw new Error('the promoted standby is still in recovery after 30 s')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    halt,
    start() {
      if (!running) start()
      running = true
    },
    stop() {
      try {
        halt()
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
