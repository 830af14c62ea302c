import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { PGlite, protocol, type messages } from '@electric-sql/pglite'
import { DATA_FOLDER_MODE, lockFolder, type LockOptions } from './lock'
import type { Db, Prepared, Queryable } from './types'

const { serialize } = protocol

/**
 * PGlite (PostgreSQL in WebAssembly) keeping its files in `dir`. The first open of a new folder runs initdb (~6 s), aside
 * (`createAside`).
 * PGlite has one connection and takes no lock of its own that works across processes, so nothing would stop two
 * servers from opening one folder and corrupting it: the data folder's lock (`lock.ts`) does, and a restart right after
 * a SIGKILL takes it at once.
 *
 * @example const db = await openPglite('.data/pglite'); …; await db.close()
 */
export async function openPglite(dir: string, lockOptions: LockOptions = {}): Promise<Db> {
  // Owner only: PGlite makes its files world-writable (0666), and they hold the JWT signing secret. Closed again at each
  // start, for a folder made before (0755).
  mkdirSync(dir, { recursive: true, mode: DATA_FOLDER_MODE })
  const release = await lockFolder(dirname(dir), lockOptions)
  let pg: PGlite
  try {
    // PGlite writes postmaster.pid with the fixed pid -42 (of its WebAssembly process), so the file names nobody; a
    // SIGKILL leaves it behind, and a torn one (killed while PGlite wrote it) makes PGlite refuse to start ("failed to
    // initialize properly"). We hold the folder now: any postmaster.pid is a leftover.
    rmSync(join(dir, 'postmaster.pid'), { force: true })
    if (!existsSync(join(dir, 'PG_VERSION'))) await createAside(dir)
    chmodSync(dir, DATA_FOLDER_MODE)
    pg = await openExisting(dir)
  } catch (error) {
    release()
    throw error
  }
  const prepared = new PreparedStatements(pg)
  // PGlite's `query` runs under its transaction lock (waits for any open transaction) and its query lock;
  // a transaction's own statements only take the query lock. Prepared runs take the same locks.
  const outside = <T>(fn: () => Promise<T>) => pg._runExclusiveTransaction(() => pg._runExclusiveQuery(fn))
  const inside = <T>(fn: () => Promise<T>) => pg._runExclusiveQuery(fn)
  const wrap = (q: Pick<PGlite, 'query'>, lock: typeof outside): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      try {
        return (await q.query<T>(sql, params)).rows
      } catch (error) {
        throw withoutValues(error)
      }
    },
    execute: <T>(statement: Prepared, params: unknown[]) =>
      lock(async () => (await prepared.run<T>(statement, [params], false))[0]!),
  })
  const base = wrap(pg, outside)
  return {
    kind: 'pglite',
    files: filesOf(dir),
    query: base.query,
    execute: base.execute,
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx, inside))),
    executeMany: <T>(statement: Prepared, paramLists: unknown[][]) =>
      paramLists.length === 0 ? Promise.resolve([]) : outside(() => prepared.run<T>(statement, paramLists, true)),
    async close() {
      try {
        await pg.close()
      } finally {
        release()
      }
    },
  }
}

/**
 * Makes a new database in a folder beside `dir` and moves it into place once PGlite has made all of it. PGlite makes
 * a database by writing its files one by one, `PG_VERSION` among the last but not last, and takes any folder with a
 * `PG_VERSION` for a made one: a server killed in between (its first start) left a folder no later start could open.
 * Now `dir` has a `PG_VERSION` only when it is whole; a start killed earlier left nothing in `dir`, and its folder
 * aside, which never held data, is made again. A `dir` with files but no `PG_VERSION` is refused, never deleted. (The
 * caller holds the data folder's lock.)
 */
async function createAside(dir: string): Promise<void> {
  const aside = join(dirname(dir), `${basename(dir)}.new`)
  rmSync(aside, { recursive: true, force: true })
  mkdirSync(aside, { mode: DATA_FOLDER_MODE })
  // Files without a PG_VERSION: an older version's first start killed early, or something that is not ours. Never
  // deleted here: whatever they are, someone should look before they go.
  const left = readdirSync(dir).sort()
  if (left.length > 0)
    throw new Error(
      `${dir} holds files (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', …' : ''}) but no database (no PG_VERSION). ` +
        'If a server was stopped while it first made this folder, it holds no data: delete it and start again; ' +
        'otherwise move it away, or restore it from a backup.',
    )
  await (await PGlite.create(aside)).close()
  rmSync(dir, { recursive: true, force: true })
  renameSync(aside, dir)
}

/** Opens the database in `dir`, or says which folder cannot be opened and what can be done about it. */
async function openExisting(dir: string): Promise<PGlite> {
  try {
    return await PGlite.create(dir)
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    throw new Error(
      `the database in ${dir} cannot be opened (${why}). If a server was stopped while it first made this folder, ` +
        'the folder holds no data yet: delete it and start again; otherwise restore it from a backup.',
      { cause: error },
    )
  }
}

interface Column {
  name: string
  parse: (value: string) => unknown
}

/**
 * Named prepared statements on PGlite's one connection, spoken in the wire protocol (PGlite's `query` parses, plans
 * and describes every statement anew, in six calls into the WebAssembly module). A run is one call: Bind + Execute
 * per parameter list + Sync, wrapped in BEGIN/COMMIT when several must commit together. Callers hold PGlite's locks.
 */
class PreparedStatements {
  private readonly columns = new Map<string, Column[]>()

  constructor(private readonly pg: PGlite) {}

  async run<T>(statement: Prepared, paramLists: unknown[][], atomic: boolean): Promise<T[][]> {
    const columns = this.columns.get(statement.name) ?? (await this.prepare(statement))
    const parts: Uint8Array[] = []
    if (atomic) parts.push(serialize.query('BEGIN'))
    for (const params of paramLists) {
      parts.push(serialize.bind({ statement: statement.name, values: params.map(toText) }), serialize.execute({}))
    }
    parts.push(serialize.sync())
    // After an error the server skips to Sync, and COMMIT in the failed transaction rolls it back: all or nothing.
    if (atomic) parts.push(serialize.query('COMMIT'))
    const { messages } = await this.pg.execProtocol(concat(parts))
    const results: T[][] = []
    let current: T[] | undefined
    for (const message of messages) {
      if (message.name === 'bindComplete') results.push((current = []))
      else if (message.name === 'dataRow' && current)
        current.push(toRow<T>(columns, (message as messages.DataRowMessage).fields))
      else if (message.name === 'commandComplete') current = undefined
    }
    if (results.length !== paramLists.length)
      throw new Error(`prepared ${statement.name}: ${results.length} results for ${paramLists.length} runs`)
    return results
  }

  private async prepare(statement: Prepared): Promise<Column[]> {
    const { messages: replies } = await this.pg.execProtocol(
      concat([
        serialize.parse({ name: statement.name, text: statement.text }),
        serialize.describe({ type: 'S', name: statement.name }),
        serialize.sync(),
      ]),
    )
    const description = replies.find((message) => message.name === 'rowDescription') as
      | messages.RowDescriptionMessage
      | undefined
    const columns = (description?.fields ?? []).map((field) => {
      const parser = this.pg.parsers[field.dataTypeID]
      return {
        name: field.name,
        parse: parser ? (value: string) => parser(value, field.dataTypeID) : (value: string) => value,
      }
    })
    this.columns.set(statement.name, columns)
    return columns
  }
}

/**
 * The device, inode and birth time of the folder, `PG_VERSION` (written once, by initdb) and `global/pg_control`
 * (rewritten in place): the same across restarts, another for a copy of the folder or one restored from a backup (the
 * files are made anew; the birth time because a file system hands the inode numbers of a folder just deleted to the
 * next files made). A restore over the existing files in place keeps them: restore into an emptied folder.
 */
function filesOf(dir: string): string {
  return [dir, join(dir, 'PG_VERSION'), join(dir, 'global', 'pg_control')]
    .map((path) => {
      const { dev, ino, birthtimeNs } = statSync(path, { bigint: true })
      return `${dev}:${ino}:${birthtimeNs}`
    })
    .join(' ')
}

function toRow<T>(columns: Column[], fields: (string | null)[]): T {
  const row: Record<string, unknown> = {}
  for (let i = 0; i < columns.length; i++) {
    const value = fields[i]
    row[columns[i]!.name] = value === null || value === undefined ? null : columns[i]!.parse(value)
  }
  return row as T
}

/**
 * A failed query's error without the values it carried: PGlite attaches them (`params`, and `queryOptions`), and a
 * logger writes every property of an error it is given, so a database failure would put a user's text, an email or a
 * password hash in the logs. The statement (`query`, parameterized) and PostgreSQL's fields (`code`, …) stay.
 */
export function withoutValues(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) {
    delete (error as { params?: unknown }).params
    delete (error as { queryOptions?: unknown }).queryOptions
  }
  return error
}

/** A parameter in PostgreSQL's text format (arrays of strings as array literals). */
function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value))
    return `{${value.map((item) => (item === null ? 'NULL' : `"${String(item).replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`
  return String(value)
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
