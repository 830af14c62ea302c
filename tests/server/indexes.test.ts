import { rmSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../server/db'
import { loginLookupPlan } from './support/plans'
import { freshDataDir } from './support/server'

// Review: the login looks its user up by lower(email), which no index served: every login read the whole users table.
describe("the login's lookup by email", () => {
  it('is served by an index on lower(email)', async () => {
    const dataDir = freshDataDir()
    const db = await openDatabase({ dataDir })
    try {
      const plan = await loginLookupPlan(db)
      expect(plan).toMatch(/Index Scan using users_lower_email|Bitmap Index Scan on users_lower_email/)
      expect(plan).not.toMatch(/Seq Scan/)
    } finally {
      await db.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})
