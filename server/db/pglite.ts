import { statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { Worker, type WorkerOptions } from 'node:worker_threads'
import { DATA_FOLDER_MODE, makeDataFolder } from './dataFolder'
import { lockFolder, type LockOptions } from './lock'
import type { Db, Prepared, Queryable } from './types'

/** What `openPglite` gives the database thread. */
export interface PgliteThreadData {
  dir: string
  /** The mode of the folders it makes (`DATA_FOLDER_MODE`). */
  folderMode: number
}

/** A message to the database thread; `tx` runs a statement in that open transaction (from `begin`). */
export type PgliteRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[]; tx?: number }
  | { id: number; op: 'execute'; statement: Prepared; params: unknown[]; tx?: number }
  | { id: number; op: 'executeMany'; statement: Prepared; paramLists: unknown[][] }
  | { id: number; op: 'begin' }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'close' }

/** A failed statement as it crosses threads: PostgreSQL's fields (`code`, `detail`…) are `props`. */
export interface ThreadError {
  message: string
  name?: string
  props: Record<string, string | number | boolean>
}

/** The answer to request `id` (0: the thread has opened the database, or could not). */
export type PgliteReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: ThreadError }

/**
 * PGlite (PostgreSQL in WebAssembly) keeping its files in `dir`, run on a thread of its own (`pgliteThread.js`: its
 * statements are synchronous WebAssembly, which on this thread held up every socket while they ran). The first open of
 * a new folder runs initdb (~6 s).
 * PGlite has one connection and takes no lock of its own that works across processes, so nothing would stop two
 * servers from opening one folder and corrupting it: the data folder's lock (`lock.ts`) does, and a restart right after
 * a SIGKILL takes it at once.
 *
 * @example const db = await openPglite('.data/pglite'); …; await db.close()
 */
export async function openPglite(dir: string, lockOptions: LockOptions = {}): Promise<Db> {
  makeDataFolder(dirname(dir), basename(dir))
  const release = await lockFolder(dirname(dir), lockOptions)
  let thread: DatabaseThread
  try {
    thread = await DatabaseThread.start(dir)
  } catch (error) {
    release()
    throw error
  }
  const on = (tx?: number): Queryable => ({
    query: <T>(sql: string, params: unknown[] = []) => thread.call<T[]>({ op: 'query', sql, params, tx }),
    execute: <T>(statement: Prepared, params: unknown[]) => thread.call<T[]>({ op: 'execute', statement, params, tx }),
  })
  const outside = on()
  return {
    kind: 'pglite',
    files: filesOf(dir),
    query: outside.query,
    execute: outside.execute,
    async transaction(fn) {
      const tx = await thread.call<number>({ op: 'begin' })
      let result: Awaited<ReturnType<typeof fn>>
      try {
        result = await fn(on(tx))
      } catch (error) {
        await thread.call({ op: 'end', tx, commit: false }).catch(() => undefined)
        throw error
      }
      await thread.call({ op: 'end', tx, commit: true })
      return result
    },
    executeMany: <T>(statement: Prepared, paramLists: unknown[][]) =>
      paramLists.length === 0 ? Promise.resolve([]) : thread.call<T[][]>({ op: 'executeMany', statement, paramLists }),
    async close() {
      try {
        await thread.close()
      } finally {
        release()
      }
    },
  }
}

const VALUED_OPTIONS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader'])
const PARENT_PROGRAM = new Set(['-e', '--eval', '-p', '--print'])

/**
 * The parent's Node options for the database thread, without tsx's loader (the thread is JavaScript, and a loader
 * registered in a new thread cost most of its start) and without the parent's own `--eval` program. Everything else
 * passes, as a worker would inherit it: a `--require` of instrumentation, `--conditions`, `--unhandled-rejections`.
 *
 * @example threadExecArgv(['--import', 'tsx', '--enable-source-maps']) // ['--enable-source-maps']
 */
export function threadExecArgv(parent: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < parent.length; i++) {
    const option = parent[i]!
    const equals = option.indexOf('=')
    const name = option.startsWith('--') && equals > 0 ? option.slice(0, equals) : option
    const takesValue = VALUED_OPTIONS.has(name) || PARENT_PROGRAM.has(name)
    // `--import tsx` is two entries, `--import=tsx` one.
    const separate = takesValue && name === option
    const entries = separate ? parent.slice(i, i + 2) : [option]
    const value = separate ? parent[i + 1] : option.slice(equals + 1)
    if (separate) i++
    if (PARENT_PROGRAM.has(name) || (VALUED_OPTIONS.has(name) && value !== undefined && isTsx(value))) continue
    kept.push(...entries)
  }
  return kept
}

/** `tsx`, `tsx/esm`, or a path or URL inside tsx's package. */
function isTsx(specifier: string): boolean {
  return /^tsx(\/|$)/.test(specifier) || /[\\/]node_modules[\\/]tsx[\\/]/.test(specifier)
}

/**
 * A worker for `url` with the Node options `execArgv` less those a worker refuses (ERR_WORKER_INVALID_EXEC_ARGV): V8's
 * and the process-wide ones (`--max-old-space-size=…`, `--title …`). They hold for the whole process already, this
 * thread included; given to the thread, they kept the database from opening. Node names them in its refusal, and
 * nothing else tells them apart.
 */
function startWorker(url: URL, execArgv: readonly string[], options: WorkerOptions): Worker {
  let argv = [...execArgv]
  for (;;) {
    try {
      return new Worker(url, { ...options, execArgv: argv })
    } catch (error) {
      const kept = withoutRefused(argv, error)
      if (kept === undefined || kept.length === argv.length) throw error
      argv = kept
    }
  }
}

/**
 * `argv` without the options a worker's refusal names (`… invalid execArgv flags: --a=1, --b`), with the value after
 * one named without it (`--b value`: the entries of `execArgv` are options and their values, never a program);
 * undefined for another error.
 */
function withoutRefused(argv: readonly string[], error: unknown): string[] | undefined {
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || typeof message !== 'string') return undefined
  const refused = new Set(message.slice(message.indexOf(': ') + 2).split(', '))
  const kept: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const option = argv[i]!
    if (!refused.has(option)) {
      kept.push(option)
      continue
    }
    if (!option.includes('=') && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-')) i++
  }
  return kept
}

type Request = PgliteRequest extends infer R ? (R extends PgliteRequest ? Omit<R, 'id'> : never) : never

/** The database thread, and the answers it owes. */
class DatabaseThread {
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: unknown) => void; site?: { stack?: string } }
  >()
  private nextId = 1
  private stopped: Error | null = null

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: PgliteReply) => this.settle(reply))
    worker.on('error', (error) =>
      this.stop(new Error(`the database thread failed: ${error.message}`, { cause: error })),
    )
    worker.on('exit', (code) => this.stop(new Error(`the database thread stopped (exit code ${code})`)))
  }

  static start(dir: string): Promise<DatabaseThread> {
    const worker = startWorker(new URL('./pgliteThread.js', import.meta.url), threadExecArgv(process.execArgv), {
      workerData: { dir, folderMode: DATA_FOLDER_MODE } satisfies PgliteThreadData,
    })
    const thread = new DatabaseThread(worker)
    return thread.waitFor<null>(0).then(
      () => thread,
      async (error: unknown) => {
        await worker.terminate()
        throw error
      },
    )
  }

  call<T = unknown>(request: Request): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped)
    const id = this.nextId++
    // Where the statement was asked for: the error is made when the answer comes, in a message callback that no
    // await links back to the caller (V8 formats it only if the error is read).
    const site: { stack?: string } = {}
    Error.captureStackTrace(site, this.call)
    const answer = this.waitFor<T>(id, site)
    this.worker.postMessage({ ...request, id })
    return answer
  }

  async close(): Promise<void> {
    try {
      await this.call({ op: 'close' })
    } finally {
      await this.worker.terminate()
    }
  }

  private waitFor<T>(id: number, site?: { stack?: string }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, site })
      // While an answer is owed the thread keeps the process alive; an idle one does not (as PGlite on this thread did not).
      this.worker.ref()
    })
  }

  private settle(reply: PgliteReply): void {
    const waiter = this.pending.get(reply.id)
    if (!waiter) return
    this.pending.delete(reply.id)
    if (this.pending.size === 0) this.worker.unref()
    if (reply.ok) {
      waiter.resolve(reply.result)
      return
    }
    const error = Object.assign(new Error(reply.error.message), reply.error.props, {
      name: reply.error.name ?? 'Error',
    })
    const frames = waiter.site?.stack?.slice(waiter.site.stack.indexOf('\n'))
    if (frames) error.stack = `${error.name}: ${error.message}${frames}`
    waiter.reject(error)
  }

  private stop(error: Error): void {
    this.stopped ??= error
    for (const waiter of this.pending.values()) waiter.reject(this.stopped)
    this.pending.clear()
  }
}

/**
 * The device, inode and birth time of the folder, `PG_VERSION` (written once, by initdb) and `global/pg_control`
 * (rewritten in place): the same across restarts, another for a copy of the folder or one restored from a backup (the
 * files are made anew; the birth time because a file system hands the inode numbers of a folder just deleted to the
 * next files made). A restore over the existing files in place keeps them: restore into an emptied folder.
 * Where Node cannot read birth times (statx refused by a seccomp profile: Docker before 18.04, libseccomp before 2.3.3;
 * some network file systems), it gives the change time instead, and pg_control's changes at every start: each restart
 * took a new epoch, and every client a sync:gap. That is told by pg_control, which the database has just rewritten,
 * so its real birth time is older: birth times are left out then (device and inode only).
 */
function filesOf(dir: string): string {
  const stats = [dir, join(dir, 'PG_VERSION'), join(dir, 'global', 'pg_control')].map((path) =>
    statSync(path, { bigint: true }),
  )
  const control = stats[2]!
  const birthTimes = control.birthtimeNs !== control.ctimeNs
  return stats.map(({ dev, ino, birthtimeNs }) => `${dev}:${ino}:${birthTimes ? birthtimeNs : 0n}`).join(' ')
}
