import { rmSync } from 'node:fs'
import { describe, it } from 'vitest'
import { openDatabase } from '../../server/db'
import { expectLoginLookupIndexed } from './support/plans'
import { freshDataDir } from './support/server'

// Review: the login looks its user up by lower(email), which no index served: every login read the whole users table.
describe("the login's lookup by email", () => {
  it('is served by an index on lower(email)', async () => {
    const dataDir = freshDataDir()
    const db = await openDatabase({ dataDir })
    try {
      await expectLoginLookupIndexed(db)
    } finally {
      await db.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})
