import pg from 'pg'
import { redactedUrl } from '../cluster/redis'
import { startRefusal } from '../errors'
import type { Db, ExecuteManyOptions, Prepared, Queryable, TransactionOptions } from './types'
import { withoutQuotedInput } from './dataException.js'

/** serialization_failure, deadlock_detected: the transaction may simply be run again. */
const RETRYABLE = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 5
/**
 * How long a transaction may sit between its statements before PostgreSQL ends it. Ours wait there only for this
 * process (and, in a send, one Redis read): a node frozen or cut off in the middle of one (a paused VM or container, a
 * partition) would otherwise hold the rows it locked, its users' log counters, until TCP gave up on it (hours), and
 * every node's writes for those users would wait behind it. A `DATABASE_URL` parameter of that name overrides it.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000
/**
 * How long connecting to the database (TCP, TLS, authentication) may take, and how long a statement may wait for a
 * free connection of the pool. A reachable database connects in milliseconds; a host that accepts and never answers
 * (a black-holed address, a server frozen or out of memory) would otherwise hold every request, and every socket's
 * handshake, for ever. A `connect_timeout` parameter of `DATABASE_URL` (libpq's, in seconds) overrides it.
 */
export const CONNECTION_TIMEOUT_MS = 5_000
/**
 * How long PostgreSQL lets one statement run (`statement_timeout`), a lock wait included. Longer than
 * `IDLE_IN_TRANSACTION_TIMEOUT_MS`: a write waiting on the rows of a node frozen in its transaction goes through once
 * that transaction is ended, rather than failing first. Ours take milliseconds; one that waits this long waits on
 * something that may never end (a lock held by a session nobody drives), and holds a pool connection meanwhile. A
 * `DATABASE_URL` parameter of that name overrides it (`0`: no limit).
 */
export const STATEMENT_TIMEOUT_MS = 15_000
/**
 * How much longer than the statement timeout `pg` waits for a statement's answer (`query_timeout`) before giving the
 * connection up. A live server cancels the statement first and the connection stays in use; this catches the server
 * that cannot say so (a partition, a frozen host). A `query_timeout` parameter of `DATABASE_URL` overrides the sum.
 */
const QUERY_TIMEOUT_MARGIN_MS = 5_000
/**
 * The client's wait for an unbounded transaction's statements: `pg` reads a `query_timeout` of 0 as the pool's, and
 * this is the longest delay a Node timer takes (24.8 days; one longer fires at once).
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1

/** `config` with the client's wait for its answer at `LONGEST_TIMER_MS` (`pg` reads it; its types leave it out). */
function withoutWait(config: pg.QueryConfig): pg.QueryConfig {
  const longest: pg.QueryConfig & { query_timeout: number } = { ...config, query_timeout: LONGEST_TIMER_MS }
  return longest
}

/**
 * Idle time before TCP starts probing a connection (keepalive). The pool's idle connections and a statement's long
 * wait send nothing: without probes a peer gone without a word (a host lost, a NAT or firewall that forgot the
 * connection) is found only by the next statement sent on it.
 */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000

/** One statement on a connection, or on whichever the pool gives. */
type Send = (config: pg.QueryConfig) => Promise<pg.QueryResult>

/**
 * PostgreSQL's fields of an error that carry the data of the statement that failed: `detail` (a constraint violation's
 * row or key, "Key (email)=(alice@…) already exists."), `where` (the context, a PL/pgSQL function's arguments) and
 * `internalQuery` (a statement a function built, values and all). `pgliteThread.js` drops the same.
 */
const ROW_FIELDS = ['detail', 'where', 'internalQuery'] as const

/**
 * `error` without the values of the row it refused (`ROW_FIELDS`): a logger writes every property of an error it is
 * given, so a database failure would put a user's text or email in the logs; a data exception's message, which quotes
 * the input, is withheld too (`withoutQuotedInput`). What an operator needs stays: the message otherwise, `code`,
 * `constraint`, `table`, `column`, `schema`, `routine`. Nothing reads the fields dropped.
 *
 * @example await pool.query(config).catch((error) => { throw withoutRow(error) })
 */
export function withoutRow(error: unknown): unknown {
  if (!(error instanceof pg.DatabaseError)) return error
  for (const field of ROW_FIELDS) delete error[field]
  return withoutQuotedInput(error)
}

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(String((error as { code?: unknown } | null)?.code))
}

/**
 * What tells this database's history from a copy or a fork of it (`Db.files`): the cluster's system identifier (new
 * for every initdb, so for a dump restored elsewhere) and the timeline it writes on (a standby promoted, or a
 * point-in-time restore, starts a new one, though it keeps the identifier). The timeline is read from the WAL file
 * being written, which names the new one from the promotion on; `pg_control_checkpoint()` names it only after the
 * next checkpoint, and a node reading the old one meanwhile would keep the log's epoch. Both functions are granted to
 * PUBLIC by default; `pg_current_wal_lsn` fails on a standby.
 */
async function identityOf(client: Pick<pg.Pool, 'query'>): Promise<string> {
  const { rows } = await client.query<{ system: string; wal: string }>(
    'select system_identifier::text as system, pg_walfile_name(pg_current_wal_lsn()) as wal from pg_control_system()',
  )
  const [row] = rows
  if (!row) throw new Error('pg_control_system() answered no row')
  return `postgres ${row.system} timeline ${Number.parseInt(row.wal.slice(0, 8), 16)}`
}

export interface PostgresTimeouts {
  /** Connecting, and waiting for a free pooled connection. Default `CONNECTION_TIMEOUT_MS`. */
  connectMs?: number
  /** PostgreSQL's `statement_timeout`. Default `STATEMENT_TIMEOUT_MS`. */
  statementMs?: number
  /** How long `pg` waits for any statement's answer before giving its connection up. Default the statement's + 5 s. */
  queryMs?: number
}

export interface OpenPostgresOptions {
  /** Called when the database's identity cannot be read (a role denied those functions, say): `files` stays unset. */
  onNoIdentity?: (error: unknown) => void
  /** Bounds on waiting for the database; parameters of the connection string override them. */
  timeouts?: PostgresTimeouts
}

/**
 * The bounds in force: the connection string's parameters over `timeouts` over the defaults. `pg` itself reads
 * `statement_timeout` and `query_timeout` from the string; they are read here too so that the client's bound follows a
 * statement timeout set there, and `connect_timeout`, which `pg` leaves to libpq.
 */
function boundsOf(connectionString: string, timeouts: PostgresTimeouts = {}) {
  let parameters: URLSearchParams | undefined
  try {
    parameters = new URL(connectionString).searchParams
  } catch {
    // A libpq key=value string or a socket path: `pg` reads no timeouts from those either.
  }
  const given = (name: string, scale = 1): number | undefined => {
    const value = parameters?.get(name)
    if (value === null || value === undefined) return undefined
    // `pg` would read 0 as a 1 ms bound on every statement: no bound is had by leaving `query_timeout` out.
    if (name === 'query_timeout' && Number(value) === 0) throw new Error('DATABASE_URL: query_timeout must be above 0')
    const number = Number(value)
    if (!Number.isFinite(number) || number < 0) throw new Error(`DATABASE_URL: ${name} must be a number, got ${value}`)
    return number * scale
  }
  const statementMs = given('statement_timeout') ?? timeouts.statementMs ?? STATEMENT_TIMEOUT_MS
  return {
    connectMs: given('connect_timeout', 1000) ?? timeouts.connectMs ?? CONNECTION_TIMEOUT_MS,
    statementMs,
    // With no statement timeout, nor one on the client: `pg` takes 0 as none.
    queryMs:
      given('query_timeout') ?? timeouts.queryMs ?? (statementMs === 0 ? 0 : statementMs + QUERY_TIMEOUT_MARGIN_MS),
  }
}

/** A PostgreSQL server through `pg`: same SQL as PGlite. */
export async function openPostgres(connectionString: string, options: OpenPostgresOptions = {}): Promise<Db> {
  let files: string | undefined
  const watchers = new Set<(files: string) => void>()
  const bounds = boundsOf(connectionString, options.timeouts)
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    connectionTimeoutMillis: bounds.connectMs,
    statement_timeout: bounds.statementMs,
    query_timeout: bounds.queryMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
    // A failover under a running process shows first in its new connections (those to the old primary break): each
    // is checked before its first statement, so whatever runs on the new timeline runs after `files` says so.
    onConnect: async (client) => {
      if (files === undefined) return
      let now: string
      try {
        now = await identityOf(client)
      } catch (error) {
        // A standby not yet promoted, say: writing there, or reading it as this database, is not safe.
        throw new Error('cannot tell this database from the one opened (system identifier and timeline)', {
          cause: error,
        })
      }
      if (now === files) return
      files = now
      for (const watcher of watchers) watcher(now)
    },
  })
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined)
  try {
    await pool.query('select 1')
  } catch (error) {
    await pool.end().catch(() => undefined)
    // `pg` says "connect ECONNREFUSED 127.0.0.1:5432" and no more: which service, and which setting to look at.
    throw startRefusal(
      new Error(`cannot reach PostgreSQL at ${redactedUrl(connectionString)}: ${(error as Error).message}`, {
        cause: error,
      }),
    )
  }
  try {
    files = await identityOf(pool)
  } catch (error) {
    // Without it the log keeps its epoch, as before there was one: a failover then goes unnoticed by resuming clients.
    options.onNoIdentity?.(error)
  }
  // `pg` prepares a named statement once per connection, at its first use there.
  const wrap = (send: Send): Queryable => ({
    query: async <T>(sql: string, params: unknown[] = []) => (await send({ text: sql, values: params })).rows as T[],
    execute: async <T>(statement: Prepared, params: unknown[]) =>
      (await send({ name: statement.name, text: statement.text, values: params })).rows as T[],
  })
  const direct = wrap((config) =>
    pool.query(config).catch((error: unknown) => {
      throw withoutRow(error)
    }),
  )
  async function transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await transactionOnce(fn, options)
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error
        // A short jittered pause: the transaction that won goes on to commit meanwhile.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt))
      }
    }
  }
  async function transactionOnce<T>(fn: (tx: Queryable) => Promise<T>, { unbounded }: TransactionOptions): Promise<T> {
    const client = await pool.connect()
    // A client checked out of the pool has no 'error' listener of the pool's: its connection lost meanwhile (the
    // database restarting or failing over, its backend terminated) would emit an unheard 'error' and end the process.
    // The statement under way rejects with it anyway, and so does the next one; the client goes back broken.
    let lost: Error | undefined
    const onError = (error: Error) => (lost ??= error)
    client.on('error', onError)
    // An error that is not PostgreSQL's answer (no answer within `query_timeout`, the connection lost) leaves it unknown
    // where the connection stands: the statement may still be running, and would answer the next one sent there. Such a
    // client is not rolled back nor reused but released with the error, which closes it; PostgreSQL rolls back what it
    // had begun when the connection goes (or its statement times out).
    let unsure: Error | undefined
    const send: Send = (config) =>
      client.query(unbounded ? withoutWait(config) : config).catch((error: unknown) => {
        if (!(error instanceof pg.DatabaseError)) unsure ??= error instanceof Error ? error : new Error(String(error))
        throw withoutRow(error)
      })
    try {
      await send({ text: 'begin' })
      if (unbounded) await send({ text: 'set local statement_timeout = 0' })
      const result = await fn(wrap(send))
      await send({ text: 'commit' })
      return result
    } catch (error) {
      if (!lost && !unsure) await send({ text: 'rollback' }).catch(() => undefined)
      throw error
    } finally {
      client.off('error', onError)
      client.release(lost ?? unsure)
    }
  }
  return {
    kind: 'postgres',
    query: direct.query,
    execute: direct.execute,
    transaction,
    executeMany: <T>(statement: Prepared, paramLists: unknown[][], options: ExecuteManyOptions = {}) =>
      paramLists.length === 0
        ? Promise.resolve([])
        : transaction(async (tx) => {
            await options.before?.(tx)
            const results: T[][] = []
            for (const params of paramLists) results.push(await tx.execute<T>(statement, params))
            return results
          }),
    close: () => pool.end(),
    get files() {
      return files
    },
    onFilesChange(watcher) {
      watchers.add(watcher)
      return () => void watchers.delete(watcher)
    },
  }
}
