/**
 * Opens the embedded database in a data folder, prints its log's epoch and closes it, for epochWithoutStatx.test.ts:
 * `node --import tsx printEpoch.ts <dataDir>`.
 */
import { openDatabase } from '../../../server/db'
import { EventLog } from '../../../server/services/eventLog'

const dataDir = process.argv[2]
if (!dataDir) throw new Error('usage: printEpoch.ts <dataDir>')
const db = await openDatabase({ dataDir })
try {
  process.stdout.write(`${(await EventLog.open(db)).epoch}\n`)
} finally {
  await db.close()
}
