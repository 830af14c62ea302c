import { join } from 'node:path'
import type { Logger } from '../logger'
import { migrate } from './migrations'
import type { LockOptions } from './lock'
import { openPglite } from './pglite'
import { openPostgres, type PostgresTimeouts } from './postgres'
import type { Db } from './types'

export type { Db, Prepared, Queryable } from './types'
export type { PostgresTimeouts } from './postgres'
export { seedIfNew, shouldSeedDemo } from './seed'

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; when absent, the embedded PGlite in `dataDir`. */
  databaseUrl?: string
  dataDir: string
  logger?: Logger
  /** With `databaseUrl`: bounds on waiting for PostgreSQL (the URL's parameters override them). */
  postgresTimeouts?: PostgresTimeouts
  /** Without `databaseUrl`: a stop that ends a wait for the data folder, and who hears of that wait (lock.ts). */
  folderWait?: Pick<LockOptions, 'signal' | 'onWait' | 'onWaitEnd'>
}

/** Opens the database and runs pending migrations (demo data is `seedIfNew`'s, when asked). */
export async function openDatabase({
  databaseUrl,
  dataDir,
  logger,
  postgresTimeouts,
  folderWait,
}: OpenDatabaseOptions): Promise<Db> {
  const started = Date.now()
  const db = databaseUrl
    ? await openPostgres(databaseUrl, {
        timeouts: postgresTimeouts,
        onNoIdentity: (error) =>
          logger?.warn(
            { err: error },
            "cannot read the database's system identifier and timeline: after a failover or a point-in-time restore, clients resuming by offset may miss events",
          ),
      })
    : await openPglite(pgliteDir(dataDir), {
        ...folderWait,
        onWait: (holder) => {
          logger?.warn(
            { dataDir, pid: holder?.pid },
            'the data folder is in use by another server: waiting up to 10 s for it to stop',
          )
          folderWait?.onWait?.(holder)
        },
      })
  try {
    const applied = await migrate(db)
    logger?.info({ kind: db.kind, migrationsApplied: applied, ms: Date.now() - started }, 'database ready')
    return db
  } catch (error) {
    await db.close().catch(() => undefined)
    throw error
  }
}

/** Where PGlite keeps its files inside the data folder. */
export function pgliteDir(dataDir: string): string {
  return join(dataDir, 'pglite')
}
