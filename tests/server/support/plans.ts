import { expect } from 'vitest'
import type { Db } from '../../../server/db'

/**
 * The plan of the login's lookup by email (`server/services/accounts.ts`) with sequential scans priced out: an index
 * that serves it is used, however few users there are; without one, the plan is still a sequential scan.
 */
export async function loginLookupPlan(db: Db): Promise<string> {
  return db.transaction(async (tx) => {
    await tx.query('set local enable_seqscan = off')
    const rows = await tx.query<{ 'QUERY PLAN': string }>(
      'explain select id, name, role, password_hash from users where lower(email) = $1',
      ['alice@talemy.test'],
    )
    return rows.map((row) => row['QUERY PLAN']).join('\n')
  })
}

/** The login's lookup by email is served by the index on lower(email), with no sequential scan. */
export async function expectLoginLookupIndexed(db: Db): Promise<void> {
  const plan = await loginLookupPlan(db)
  expect(plan).toMatch(/Index Scan using users_lower_email|Bitmap Index Scan on users_lower_email/)
  expect(plan).not.toMatch(/Seq Scan/)
}
