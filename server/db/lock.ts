import { randomBytes } from 'node:crypto'
import { linkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startRefusal } from '../errors'
import { makeDataFolder } from './dataFolder'
import { kernelLockSupported, tryKernelLock } from './kernelLock'
import {
  defaultObserve,
  describeSelf,
  judgeHolder,
  parseHolder,
  readOrUndefined,
  type LockHolder,
  type Observe,
} from './lockHolder'

export type { LockHolder } from './lockHolder'

export interface LockOptions {
  /** How long a live holder is waited for (it may be shutting down) before refusing. Default 10 s. */
  waitMs?: number
  /** How often to look again while waiting. Default 100 ms. */
  pollMs?: number
  /** Take the kernel-released lock (kernelLock.ts) too. Default: where the platform has it (Linux). */
  kernelLock?: boolean
  /** How a pid in the file is looked at. Default: `/proc` on Linux, `ps` on other POSIX systems, `kill(pid, 0)` on Windows. */
  observe?: Observe
  /** Called once when a live holder makes us wait (with the holder the pid file names, if any). */
  onWait?: (holder: LockHolder | undefined) => void
  /** Called once that wait is over: the folder taken, refused, or the wait stopped. */
  onWaitEnd?: () => void
  /** A stop (a Ctrl-C at `npm start`): ends a wait for a live holder at once, rejecting with an `AbortError`. */
  signal?: AbortSignal
}

/** The file in a locked folder naming its holder. */
export const LOCK_FILE = 'server.pid'

/** Folders (by device and inode) this process holds: a second open here is refused at once, not waited for. */
const heldHere = new Set<string>()

/**
 * Takes `folder` for this process, so that two servers never open one data folder. Resolves with the release
 * function; rejects with "… is in use by another server (pid N) …", saying what to do, when a live server keeps it for
 * longer than `waitMs`.
 *
 * Two locks, both taken:
 * - on Linux, the kernel lock (an abstract Unix socket, kernelLock.ts), which the kernel releases the moment its holder
 *   dies: a restart right after a SIGKILL never waits for the killed process to be reaped;
 * - everywhere, `server.pid`, created exclusively with its whole content (written aside, then hard-linked into place),
 *   naming the holder for error messages and for systems without the kernel lock. A file whose process is gone, a
 *   zombie, exiting, or another process by now (lockHolder.ts `judgeHolder`) is stale: it is removed and the take
 *   retried. Only a live holder is waited for.
 *
 * @example const release = await lockFolder('.data'); …; release()
 */
export async function lockFolder(folder: string, options: LockOptions = {}): Promise<() => void> {
  const { waitMs = 10_000, pollMs = 100, onWait, onWaitEnd, signal } = options
  const observe = options.observe ?? defaultObserve()
  // Owner only, when made here: the database in it holds the JWT signing secret.
  makeDataFolder(folder)
  const key = folderKey(folder)
  if (heldHere.has(key)) {
    throw new Error(
      `${folder} is in use by another server in this process: close that one first, or use another data folder`,
    )
  }
  heldHere.add(key)
  const file = join(folder, LOCK_FILE)
  const deadline = Date.now() + waitMs
  let told = false
  const waitFor = async (holder: LockHolder | undefined) => {
    if (signal?.aborted) throw stoppedWaiting(folder)
    if (Date.now() >= deadline) throw refusal(folder, holder, waitMs)
    if (!told) onWait?.(holder)
    told = true
    await sleep(pollMs, undefined, { signal }).catch((error: unknown) => {
      throw signal?.aborted ? stoppedWaiting(folder) : error
    })
  }
  let releaseKernel: (() => void) | undefined
  try {
    if (options.kernelLock ?? kernelLockSupported()) {
      for (;;) {
        const lock = await tryKernelLock(folder)
        if (lock.state === 'unavailable') break // the pid file alone, as on other systems
        if (lock.state === 'taken') {
          releaseKernel = lock.release
          break
        }
        await waitFor(parseHolder(readOrUndefined(file) ?? ''))
      }
    }
    const releaseFile = await takeLockFile(file, describeSelf(observe), observe, waitFor)
    let released = false
    return () => {
      if (released) return
      released = true
      releaseFile()
      releaseKernel?.()
      heldHere.delete(key)
    }
  } catch (error) {
    releaseKernel?.()
    heldHere.delete(key)
    throw error
  } finally {
    if (told) onWaitEnd?.()
  }
}

async function takeLockFile(
  file: string,
  self: LockHolder,
  observe: Observe,
  waitFor: (holder: LockHolder) => Promise<void>,
): Promise<() => void> {
  const mine = JSON.stringify(self)
  // Written aside and linked into place: whoever reads the lock file sees all of it, never a half-written one.
  const aside = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`
  writeFileSync(aside, mine)
  try {
    for (let retries = 0; ; ) {
      if (createExclusive(file, aside, mine)) {
        return () => {
          if (readOrUndefined(file) === mine) rmSync(file, { force: true })
        }
      }
      if (++retries > 50) throw new Error(`${file}: could not take it (it keeps coming back, or cannot be read)`)
      const text = readOrUndefined(file)
      if (text === undefined) continue // released meanwhile: try again
      const holder = parseHolder(text)
      // Our own pid in the file is an earlier process's (this one does not hold the folder: `heldHere`).
      const verdict =
        holder === undefined
          ? 'unreadable'
          : holder.pid === process.pid
            ? 'other'
            : judgeHolder(holder, observe(holder.pid))
      if (holder && verdict === 'holds') {
        retries = 0
        await waitFor(holder)
        continue
      }
      // Stale: remove it, unless someone replaced it in the meantime.
      if (readOrUndefined(file) === text) rmSync(file, { force: true })
    }
  } finally {
    rmSync(aside, { force: true })
  }
}

/** Creates `file` with `content` unless it exists; false when it does. */
function createExclusive(file: string, aside: string, content: string): boolean {
  try {
    linkSync(aside, file)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error
  }
  // A file system without hard links: an exclusive create (a reader may briefly see it empty: taken as stale).
  try {
    writeFileSync(file, content, { flag: 'wx' })
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

function refusal(folder: string, holder: LockHolder | undefined, waitMs: number): Error {
  const who = holder ? `pid ${holder.pid}` : 'pid unknown'
  const stop = holder ? `Stop that server (kill ${holder.pid})` : 'Stop that server'
  return startRefusal(
    new Error(
      `${folder} is in use by another server (${who}); waited ${+(waitMs / 1000).toFixed(1)} s for it to exit. ` +
        `${stop} and start again, or give this one another data folder (DATA_DIR).`,
    ),
  )
}

function stoppedWaiting(folder: string): Error {
  return Object.assign(new Error(`stopped while waiting for ${folder} to be free`), { name: 'AbortError' })
}

function folderKey(folder: string): string {
  const { dev, ino } = statSync(folder, { bigint: true })
  return `${dev}:${ino}`
}
