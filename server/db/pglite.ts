import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { Db, Queryable } from './types'

/**
 * PGlite (PostgreSQL in WebAssembly) keeping its files in `dir`. The first open of a new folder runs initdb (~6 s).
 * A `postmaster.pid` left by a killed process is removed first: only one server may use a folder at a time.
 */
export async function openPglite(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true })
  const stalePid = join(dir, 'postmaster.pid')
  if (existsSync(stalePid)) rmSync(stalePid, { force: true })
  const pg = await PGlite.create(dir)
  const wrap = (q: Pick<PGlite, 'query'>): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      const result = await q.query<T>(sql, params)
      return result.rows
    },
  })
  const base = wrap(pg)
  return {
    kind: 'pglite',
    query: base.query,
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    close: () => pg.close(),
  }
}
