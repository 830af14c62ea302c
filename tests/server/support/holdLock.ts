/**
 * A process that holds a data folder's lock, for lock.test.ts: `node --import tsx holdLock.ts <folder>`.
 * Prints `held <pid>` once it holds it; SIGUSR2 releases it (prints `released`) and the process stays alive.
 */
import { lockFolder } from '../../../server/db/lock'

const folder = process.argv[2]
if (!folder) throw new Error('usage: holdLock.ts <folder>')
const release = await lockFolder(folder, { waitMs: 0 })
// The handler before the word: a test sends SIGUSR2 once it reads `held`, and a busy machine may hold this process
// between the two; without a handler, SIGUSR2 ends the process (the lock goes with it, and `released` never comes).
process.on('SIGUSR2', () => {
  release()
  process.stdout.write('released\n')
})
process.stdout.write(`held ${process.pid}\n`)
setInterval(() => undefined, 60_000)
