/**
 * A statement prepared once per connection and then run by name: the database skips parsing and planning on every
 * later run (for a statement with several CTEs that is most of its cost). `name` must be unique per `text`.
 */
export interface Prepared {
  readonly name: string
  readonly text: string
}

/** The one thing the rest of the server knows about storage: parameterised SQL ($1, $2…) and transactions. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  /** Runs a prepared statement (prepared on this connection at its first use). Same result shape as `query`. */
  execute<T = Record<string, unknown>>(statement: Prepared, params: unknown[]): Promise<T[]>
}

export interface ExecuteManyOptions {
  before?: (tx: Queryable) => Promise<void>
}

export interface TransactionOptions {
  /**
   * PostgreSQL: its statements run without the statement timeout and without the client's wait for an answer (the
   * bounds every other statement has), as a migration's must: an index built over a big table, or the wait of a second
   * node on the migration lock meanwhile, takes as long as the table is big. PGlite has no such bounds.
   */
  unbounded?: boolean
}

export interface Db extends Queryable {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. On PostgreSQL a deadlock or
   * serialization failure runs `fn` again, in a new transaction (a few times): `fn` must have no other effects.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>
  /**
   * Runs `statement` once per parameter list, in order, all in one transaction: one commit for the lot (group
   * commit). Resolves with each run's rows once committed; when any run fails, nothing is kept and it rejects with
   * that run's error. `before` runs first in that transaction (PostgreSQL: to take row locks in a chosen order; PGlite
   * has one connection that serialises everything, and ignores it).
   */
  executeMany<T = Record<string, unknown>>(
    statement: Prepared,
    paramLists: unknown[][],
    options?: ExecuteManyOptions,
  ): Promise<T[][]>
  close(): Promise<void>
  readonly kind: 'pglite' | 'postgres'
  /**
   * What tells these database files from a copy or a restore of them, whose history may have gone back or forked:
   * PGlite: the inodes and birth times of its folder and of two files PostgreSQL writes in place; PostgreSQL: the
   * cluster's system identifier and its current timeline (new after a standby's promotion or a point-in-time
   * restore), read when opened and again on every new connection. `undefined` where nothing tells (a PostgreSQL role
   * that may not read them). The event log takes another epoch when it changes (`EventLog.open`, `EventLog.renew`).
   */
  readonly files?: string
  /**
   * Calls `watcher` when `files` changes while open (PostgreSQL: a connection made after a failover reached another
   * timeline), before any statement runs on that connection. Answers its removal.
   */
  onFilesChange?(watcher: (files: string) => void): () => void
}
