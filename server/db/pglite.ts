import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { Db, Queryable } from './types'

/**
 * PGlite (PostgreSQL in WebAssembly) keeping its files in `dir`. The first open of a new folder runs initdb (~6 s).
 * PGlite has one connection and ignores a stale `postmaster.pid` (it reopens fine after a SIGKILL), so nothing would
 * stop two servers from opening one folder and corrupting it: a pid file next to it does.
 */
export async function openPglite(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true })
  const release = lockFolder(join(dirname(dir), 'server.pid'))
  let pg: PGlite
  try {
    pg = await PGlite.create(dir)
  } catch (error) {
    release()
    throw error
  }
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
    async close() {
      try {
        await pg.close()
      } finally {
        release()
      }
    },
  }
}

/** Takes `file` for this process; refuses when another live process holds it. Returns the release function. */
function lockFolder(file: string): () => void {
  if (existsSync(file)) {
    const holder = Number(readFileSync(file, 'utf8').trim())
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new Error(`${dirname(file)} is in use by another server (pid ${holder})`)
    }
  }
  writeFileSync(file, String(process.pid))
  return () => rmSync(file, { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
