import pg from 'pg'
import type { Db, ExecuteManyOptions, Prepared, Queryable } from './types'

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

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(String((error as { code?: unknown } | null)?.code))
}

/** A PostgreSQL server through `pg`: same SQL as PGlite. */
export async function openPostgres(connectionString: string): Promise<Db> {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
  })
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined)
  await pool.query('select 1')
  // `pg` prepares a named statement once per connection, at its first use there.
  const run = async <T>(client: Pick<pg.Pool, 'query'>, statement: Prepared, params: unknown[]) =>
    (await client.query({ name: statement.name, text: statement.text, values: params })).rows as T[]
  const wrap = (client: Pick<pg.Pool, 'query'>): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      const result = await client.query(sql, params)
      return result.rows as T[]
    },
    execute: (statement, params) => run(client, statement, params),
  })
  async function transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await transactionOnce(fn)
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error
        // A short jittered pause: the transaction that won goes on to commit meanwhile.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt))
      }
    }
  }
  async function transactionOnce<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await pool.connect()
    // A client checked out of the pool has no 'error' listener of the pool's: its connection lost meanwhile (the
    // database restarting or failing over, its backend terminated) would emit an unheard 'error' and end the process.
    // The statement under way rejects with it anyway, and so does the next one; the client goes back broken.
    let lost: Error | undefined
    const onError = (error: Error) => (lost ??= error)
    client.on('error', onError)
    try {
      await client.query('begin')
      const result = await fn(wrap(client))
      await client.query('commit')
      return result
    } catch (error) {
      await client.query('rollback').catch(() => undefined)
      throw error
    } finally {
      client.off('error', onError)
      client.release(lost)
    }
  }
  return {
    kind: 'postgres',
    query: wrap(pool).query,
    execute: wrap(pool).execute,
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
  }
}
