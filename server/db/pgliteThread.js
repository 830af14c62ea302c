// @ts-check
// JavaScript, type-checked from its JSDoc: a worker thread does not inherit the TypeScript loader its parent runs under
// (tsx, or Vitest's), and registering tsx's again in each new thread cost most of every start of the database
// (`threadExecArgv` in pglite.ts keeps the parent's `--import tsx` out of it too).
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite, protocol } from '@electric-sql/pglite'
import { withoutQuotedInput } from './dataException.js'

/** @import { messages, Transaction } from '@electric-sql/pglite' */
/** @import { PgliteReply, PgliteRequest, PgliteThreadData, ThreadError } from './pglite' */
/** @import { Prepared } from './types' */

const { serialize } = protocol

/**
 * The database thread: PGlite (PostgreSQL in WebAssembly) runs every statement synchronously, for a millisecond or
 * more each, and on the server's own thread that held up every socket for as long (a batch of sends, tens of ms). Here
 * it has a thread of its own; `pglite.ts` speaks to it in messages. The main thread holds the data folder's lock.
 *
 * @param {PgliteThreadData} data
 * @returns {Promise<void>}
 */
async function serve({ dir, folderMode }) {
  const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort)
  /** @type {PGlite} */
  let pg
  try {
    // PGlite writes postmaster.pid with the fixed pid -42 (of its WebAssembly process), so the file names nobody; a
    // SIGKILL leaves it behind, and a torn one (killed while PGlite wrote it) makes PGlite refuse to start ("failed to
    // initialize properly"). The main thread holds the folder now: any postmaster.pid is a leftover.
    rmSync(join(dir, 'postmaster.pid'), { force: true })
    if (!existsSync(join(dir, 'PG_VERSION'))) await createAside(dir, folderMode)
    // Owner only: PGlite makes its files world-writable (0666), and they hold the JWT signing secret. Closed again at
    // each start, for a folder made before (0755).
    chmodSync(dir, folderMode)
    pg = await openExisting(dir)
  } catch (error) {
    port.postMessage(/** @type {PgliteReply} */ ({ id: 0, ok: false, error: threadError(error) }))
    return
  }
  const prepared = new PreparedStatements(pg)
  // PGlite's `query` runs under its transaction lock (waits for any open transaction) and its query lock;
  // a transaction's own statements only take the query lock. Prepared runs take the same locks.
  /** @type {<T>(fn: () => Promise<T>) => Promise<T>} */
  const outside = (fn) => pg._runExclusiveTransaction(() => pg._runExclusiveQuery(fn))
  /** @type {<T>(fn: () => Promise<T>) => Promise<T>} */
  const inside = (fn) => pg._runExclusiveQuery(fn)
  /**
   * Open transactions: the main thread runs their statements, then says commit or roll back.
   * @type {Map<number, { tx: Transaction; finish: (commit: boolean) => void; endId?: number }>}
   */
  const transactions = new Map()
  let nextTransaction = 1
  /** @param {PgliteReply} message */
  const reply = (message) => port.postMessage(message)
  /** @param {number} id @param {() => Promise<unknown>} work */
  const answer = (id, work) =>
    work().then(
      (result) => reply({ id, ok: true, result }),
      (/** @type {unknown} */ error) => reply({ id, ok: false, error: threadError(error) }),
    )
  /** @param {number} id */
  const inTransaction = (id) => {
    const open = transactions.get(id)
    if (!open) throw new Error(`no open transaction ${id}`)
    return open
  }
  const ROLLBACK = Symbol('rollback')

  port.on('message', (/** @type {PgliteRequest} */ request) => {
    switch (request.op) {
      case 'query':
        void answer(request.id, async () => {
          const q = request.tx === undefined ? pg : inTransaction(request.tx).tx
          return (await q.query(request.sql, request.params)).rows
        })
        break
      case 'execute':
        void answer(request.id, async () => {
          // In a transaction: only once it is still open, under the query lock alone (its own lock is held).
          if (request.tx !== undefined) inTransaction(request.tx)
          const lock = request.tx === undefined ? outside : inside
          return (await lock(() => prepared.run(request.statement, [request.params], false)))[0]
        })
        break
      case 'executeMany':
        void answer(request.id, () => outside(() => prepared.run(request.statement, request.paramLists, true)))
        break
      case 'begin': {
        const id = nextTransaction++
        let begun = false
        pg.transaction(async (tx) => {
          begun = true
          /** @type {boolean} */
          const commit = await new Promise((finish) => {
            transactions.set(id, { tx, finish })
            reply({ id: request.id, ok: true, result: id })
          })
          if (!commit) throw ROLLBACK
        })
          .then(
            () => reply({ id: /** @type {number} */ (transactions.get(id)?.endId), ok: true, result: null }),
            (/** @type {unknown} */ error) => {
              const to = begun ? transactions.get(id)?.endId : request.id
              if (to !== undefined)
                reply(
                  error === ROLLBACK
                    ? { id: to, ok: true, result: null }
                    : { id: to, ok: false, error: threadError(error) },
                )
            },
          )
          .finally(() => transactions.delete(id))
        break
      }
      case 'end': {
        const open = transactions.get(request.tx)
        if (!open) {
          reply({ id: request.id, ok: false, error: { message: `no open transaction ${request.tx}`, props: {} } })
          break
        }
        open.endId = request.id
        open.finish(request.commit)
        break
      }
      case 'close':
        void answer(request.id, () => pg.close())
        break
    }
  })
  reply({ id: 0, ok: true, result: null })
}

/**
 * Makes a new database in a folder beside `dir` and moves it into place once PGlite has made all of it. PGlite makes
 * a database by writing its files one by one, `PG_VERSION` among the last but not last, and takes any folder with a
 * `PG_VERSION` for a made one: a server killed in between (its first start) left a folder no later start could open.
 * Now `dir` has a `PG_VERSION` only when it is whole; a start killed earlier left nothing in `dir`, and its folder
 * aside, which never held data, is made again. A `dir` with files but no `PG_VERSION` is refused, never deleted. (The
 * caller holds the data folder's lock.)
 *
 * @param {string} dir
 * @param {number} folderMode
 */
async function createAside(dir, folderMode) {
  const aside = join(dirname(dir), `${basename(dir)}.new`)
  rmSync(aside, { recursive: true, force: true })
  mkdirSync(aside, { mode: folderMode })
  // Files without a PG_VERSION: an older version's first start killed early, or something that is not ours. Never
  // deleted here: whatever they are, someone should look before they go.
  const left = readdirSync(dir).sort()
  if (left.length > 0)
    throw refusal(
      `${dir} holds files (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', …' : ''}) but no database (no PG_VERSION). ` +
        'If a server was stopped while it first made this folder, it holds no data: delete it and start again; ' +
        'otherwise move it away, or restore it from a backup.',
    )
  await (await PGlite.create(aside, { startParams: START_PARAMS })).close()
  rmSync(dir, { recursive: true, force: true })
  renameSync(aside, dir)
}

/**
 * PostgreSQL's buffer cache, inside PGlite's WebAssembly memory. initdb writes 128 MB into postgresql.conf and PGlite
 * sets all of it up at every start, which was most of a start's time (a crash restart's too) and of the server's
 * memory. The embedded database is the one-process setup (a DATABASE_URL takes PostgreSQL for larger data), and its
 * files are ordinary files: a page beyond this cache is read from the operating system's cache, not from the disk.
 */
const SHARED_BUFFERS = '16MB'
const START_PARAMS = [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`]

/**
 * Opens the database in `dir`, or says which folder cannot be opened and what can be done about it.
 * @param {string} dir
 * @returns {Promise<PGlite>}
 */
async function openExisting(dir) {
  try {
    return await PGlite.create(dir, { startParams: START_PARAMS })
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    throw refusal(
      `the database in ${dir} cannot be opened (${why}). If a server was stopped while it first made this folder, ` +
        'the folder holds no data yet: delete it and start again; otherwise restore it from a backup.',
      { cause: error },
    )
  }
}

/**
 * A refused start the operator is to act on (`startRefusal` of server/errors.ts, which this thread cannot import: it is
 * TypeScript); the flag crosses to the main thread with the error's other properties.
 * @param {string} message
 * @param {ErrorOptions} [options]
 * @returns {Error}
 */
function refusal(message, options) {
  return Object.assign(new Error(message, options), { startRefusal: true })
}

/** @typedef {{ name: string; parse: (value: string) => unknown }} Column */

/**
 * Named prepared statements on PGlite's one connection, spoken in the wire protocol (PGlite's `query` parses, plans
 * and describes every statement anew, in six calls into the WebAssembly module). A run is one call: Bind + Execute
 * per parameter list + Sync, wrapped in BEGIN/COMMIT when several must commit together. Callers hold PGlite's locks.
 */
class PreparedStatements {
  /** @type {Map<string, Column[]>} */
  #columns = new Map()
  /** @type {PGlite} */
  #pg

  /** @param {PGlite} pg */
  constructor(pg) {
    this.#pg = pg
  }

  /**
   * @param {Prepared} statement
   * @param {unknown[][]} paramLists
   * @param {boolean} atomic
   * @returns {Promise<Record<string, unknown>[][]>}
   */
  async run(statement, paramLists, atomic) {
    const columns = this.#columns.get(statement.name) ?? (await this.#prepare(statement))
    /** @type {Uint8Array[]} */
    const parts = []
    if (atomic) parts.push(serialize.query('BEGIN'))
    for (const params of paramLists) {
      parts.push(serialize.bind({ statement: statement.name, values: params.map(toText) }), serialize.execute({}))
    }
    parts.push(serialize.sync())
    // After an error the server skips to Sync, and COMMIT in the failed transaction rolls it back: all or nothing.
    if (atomic) parts.push(serialize.query('COMMIT'))
    const { messages } = await this.#pg.execProtocol(concat(parts))
    /** @type {Record<string, unknown>[][]} */
    const results = []
    /** @type {Record<string, unknown>[] | undefined} */
    let current
    for (const message of messages) {
      if (message.name === 'bindComplete') results.push((current = []))
      else if (message.name === 'dataRow' && current)
        current.push(toRow(columns, /** @type {messages.DataRowMessage} */ (message).fields))
      else if (message.name === 'commandComplete') current = undefined
    }
    if (results.length !== paramLists.length)
      throw new Error(`prepared ${statement.name}: ${results.length} results for ${paramLists.length} runs`)
    return results
  }

  /**
   * @param {Prepared} statement
   * @returns {Promise<Column[]>}
   */
  async #prepare(statement) {
    const { messages: replies } = await this.#pg.execProtocol(
      concat([
        serialize.parse({ name: statement.name, text: statement.text }),
        serialize.describe({ type: 'S', name: statement.name }),
        serialize.sync(),
      ]),
    )
    const description = /** @type {messages.RowDescriptionMessage | undefined} */ (
      replies.find((message) => message.name === 'rowDescription')
    )
    const columns = (description?.fields ?? []).map((field) => {
      const parser = this.#pg.parsers[field.dataTypeID]
      return {
        name: field.name,
        parse: parser
          ? (/** @type {string} */ value) => parser(value, field.dataTypeID)
          : (/** @type {string} */ value) => value,
      }
    })
    this.#columns.set(statement.name, columns)
    return columns
  }
}

/**
 * @param {Column[]} columns
 * @param {(string | null)[]} fields
 * @returns {Record<string, unknown>}
 */
function toRow(columns, fields) {
  /** @type {Record<string, unknown>} */
  const row = {}
  for (let i = 0; i < columns.length; i++) {
    const column = /** @type {Column} */ (columns[i])
    const value = fields[i]
    row[column.name] = value === null || value === undefined ? null : column.parse(value)
  }
  return row
}

/**
 * What crosses back to the main thread of a failed statement: its message and PostgreSQL's fields (`code`, `detail`,
 * `constraint`…), which a structured clone of an Error would drop, without the values it carried (`withoutValues`).
 *
 * @param {unknown} error
 * @returns {ThreadError}
 */
function threadError(error) {
  if (!(error instanceof Error)) return { message: String(error), props: {} }
  /** @type {Record<string, string | number | boolean>} */
  const props = {}
  for (const [key, value] of Object.entries(withoutValues(error)))
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') props[key] = value
  return { message: error.message, name: error.name, props }
}

/**
 * A failed query's error without the values it carried: PGlite attaches them (`params`, and `queryOptions`), and
 * PostgreSQL puts the failing row in `detail` ("Key (email)=(alice@…) already exists."), the context in `where` and a
 * statement a function built in `internalQuery` (as `withoutRow` of postgres.ts drops them); a logger writes every
 * property of an error it is given, so a database failure would put a user's text, an email or a password hash in the
 * logs. A data exception's message, which quotes the input, is withheld too (`withoutQuotedInput`). The statement
 * (`query`, parameterized) and PostgreSQL's other fields (`code`, `constraint`, `table`…) stay.
 *
 * @param {Error & { params?: unknown; queryOptions?: unknown; detail?: unknown; where?: unknown; internalQuery?: unknown }} error
 * @returns {Error}
 */
function withoutValues(error) {
  delete error.params
  delete error.queryOptions
  delete error.detail
  delete error.where
  delete error.internalQuery
  return withoutQuotedInput(error)
}

/**
 * A parameter in PostgreSQL's text format (arrays of strings as array literals).
 * @param {unknown} value
 * @returns {string | null}
 */
function toText(value) {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value))
    return `{${value.map((item) => (item === null ? 'NULL' : `"${String(item).replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`
  return String(value)
}

/**
 * @param {Uint8Array[]} parts
 * @returns {Uint8Array}
 */
function concat(parts) {
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

void serve(/** @type {PgliteThreadData} */ (workerData))
