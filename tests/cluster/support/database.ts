import { tmpdir } from 'node:os'
import { startServer } from '../../../server/index'
import type { PostgresCluster } from '../../server/support/postgres'

/**
 * A new database `name` in `postgres`, migrated and seeded with the demo data once, by a server started (and closed)
 * in this process: nodes started on it then share the data (and the signing key kept with it). Resolves to its URL.
 *
 * @example const databaseUrl = await seededDatabase(postgres, 'talemy_failover')
 */
export async function seededDatabase(postgres: PostgresCluster, name: string): Promise<string> {
  const databaseUrl = postgres.createDatabase(name)
  const seeder = await startServer({ port: 0, databaseUrl, dataDir: tmpdir(), seedDemo: true, logLevel: 'silent' })
  await seeder.close()
  return databaseUrl
}
