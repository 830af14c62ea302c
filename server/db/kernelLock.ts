import { createHash, randomBytes } from 'node:crypto'
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, type Server } from 'node:net'

/**
 * A lock the kernel releases by itself (Linux): a Unix socket bound to a name in the abstract namespace. Binding fails
 * with EADDRINUSE while any live process has it bound; the kernel drops the name when the holder's files are closed,
 * which happens in its exit path, before it is reaped: a SIGKILLed holder lets go whether or not its parent ever reaps
 * it. (The main thread shows as a zombie a moment earlier than that while the other threads of a multi-threaded
 * process still exit; lock.ts polls through that moment.) Node opens sockets close-on-exec, so child processes do not inherit it.
 *
 * The name comes from the folder's device and inode (and an id kept in it): the same folder under any path (symlink,
 * bind mount) gets the same name, and a copy of a folder gets another. Abstract names are per network namespace, and
 * the pid file (lock.ts) is judged by pid in the reader's own pid namespace: two containers that share a folder but
 * neither the network nor the pids each get the lock. One server per folder across containers is the deployment's to
 * ensure (README, `DATA_DIR`); several servers belong on PostgreSQL.
 */
export type KernelLock =
  | { state: 'taken'; release(): void }
  | { state: 'busy' }
  | { state: 'unavailable'; reason: string }

/** Where abstract Unix socket names exist. */
export const kernelLockSupported = (platform = process.platform): boolean => platform === 'linux'

/** A random id kept in the folder, made on its first lock. */
export const LOCK_ID_FILE = 'server.lock-id'

/**
 * The abstract socket name for `folder` (which must exist): its device and inode, and the random id kept in it. The
 * id because an inode number is reused once its folder is deleted: a server still running on a deleted folder (an
 * orphan) must not hold the lock of a new folder that happens to get the same number. A copy of a folder has the
 * copied id but its own inode.
 */
export function kernelLockName(folder: string): string {
  const { dev, ino } = statSync(folder, { bigint: true })
  return `\0talemy-data-lock-${createHash('sha256')
    .update(`${dev}:${ino}:${folderId(folder)}`)
    .digest('hex')
    .slice(0, 32)}`
}

function folderId(folder: string): string {
  const file = join(folder, LOCK_ID_FILE)
  // Written aside and linked into place: two servers starting at once never read a half-written id.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(draft, randomBytes(16).toString('hex'))
  try {
    linkSync(draft, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    rmSync(draft, { force: true })
  }
  return readFileSync(file, 'utf8').trim()
}

/**
 * Tries once to take the kernel lock for `folder`: `taken` (with its release), `busy` (a live process has it), or
 * `unavailable` (the system refused the socket for another reason; the caller falls back to the pid file alone).
 *
 * @example const lock = await tryKernelLock('.data'); if (lock.state === 'taken') …; lock.release()
 */
export function tryKernelLock(folder: string): Promise<KernelLock> {
  const name = kernelLockName(folder)
  // Nobody has a reason to connect; whoever does is closed at once.
  const server: Server = createServer((socket) => socket.destroy())
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      server.close()
      resolve(
        error.code === 'EADDRINUSE' ? { state: 'busy' } : { state: 'unavailable', reason: error.code ?? error.message },
      )
    })
    server.listen({ path: name }, () => {
      // The lock must not keep the process running.
      server.unref()
      resolve({ state: 'taken', release: () => void server.close() })
    })
  })
}
