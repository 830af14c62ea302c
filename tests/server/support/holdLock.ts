/**
 * A process that holds a data folder's lock, for lock.test.ts: `node --import tsx holdLock.ts <folder>`.
 * Prints `held <pid>` once it holds it; SIGUSR2 releases it (prints `released`) and the process stays alive.
 */
import { lockFolder } from '../../../server/db/lock'

const folder = process.argv[2]
if (!folder) throw new Error('usage: holdLock.ts <folder>')
const release = await lockFolder(folder, { waitMs: 0 })
process.stdout.write(`held ${process.pid}\n`)
process.on('SIGUSR2', () => {
  release()
  process.stdout.write('released\n')
})
setInterval(() => undefined, 60_000)
