import { accessSync, constants, mkdirSync, statSync, type Stats } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { startRefusal } from '../errors'

/** The data folders' mode: the server's own account only (the database in it holds the JWT signing secret). */
export const DATA_FOLDER_MODE = 0o700

/**
 * Makes the data folder `folder` (and `folder/inside`, when given) with the folders above it that are missing, one at a
 * time, or throws one sentence naming DATA_DIR and what is in the way. Node's recursive `mkdirSync` spun for good where
 * the system refuses a folder with ENOENT (`/proc/nope/x`), and a file in the way failed as "ENOTDIR: not a directory,
 * mkdir '…/pglite'", naming neither the variable nor the file.
 *
 * @example makeDataFolder('.data', 'pglite') // .data/pglite exists, or: DATA_DIR=.data cannot be used: … is a file, not a folder
 */
export function makeDataFolder(folder: string, inside?: string): void {
  const target = inside === undefined ? resolve(folder) : join(resolve(folder), inside)
  const refuse = (why: string) => startRefusal(new Error(`DATA_DIR=${folder} cannot be used: ${why}`))
  const notFolder = (path: string, stat: Stats) =>
    refuse(`${path} is ${stat.isFile() ? 'a file' : 'something else'}, not a folder`)
  // Up to the nearest that exists: it must be a folder; those below it are made.
  const missing: string[] = []
  for (let at = target; ; ) {
    let stat: Stats
    try {
      stat = statSync(at)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const up = dirname(at)
      if ((code === 'ENOENT' || code === 'ENOTDIR') && up !== at) {
        missing.push(at)
        at = up
        continue
      }
      throw refuse(`${at} cannot be read (${code ?? (error as Error).message})`)
    }
    if (!stat.isDirectory()) throw notFolder(at, stat)
    // One this account cannot write to (made by an earlier `sudo npm start`, on a read-only mount) failed later as
    // "EACCES: permission denied, open '…/server.lock-id.1234.0a1b2c3d'", naming a file nobody made.
    if (at === target) {
      try {
        accessSync(at, constants.W_OK | constants.X_OK)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? ''
        // No owner or mode makes a read-only file system writable: only a folder elsewhere does.
        const remedy =
          code === 'EROFS'
            ? 'set DATA_DIR to a folder on a file system mounted read-write'
            : 'give it to the account that runs the server, or set DATA_DIR to another folder'
        throw refuse(`${at} cannot be written to (${REASONS[code] ?? code}): ${remedy}`)
      }
    }
    break
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode: DATA_FOLDER_MODE })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST') {
        // Made meanwhile by someone else, or a link to nothing.
        let stat: Stats | undefined
        try {
          stat = statSync(path)
        } catch {
          stat = undefined
        }
        if (stat?.isDirectory()) continue
        if (stat) throw notFolder(path, stat)
        throw refuse(`${path} is a link to nothing`)
      }
      throw refuse(
        `${basename(path)} cannot be made in ${dirname(path)} (${REASONS[code ?? ''] ?? code ?? (error as Error).message})`,
      )
    }
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'a read-only file system',
  ENOSPC: 'no space left',
  EDQUOT: 'over the disk quota',
  ENOENT: 'this file system takes no new folders there',
}
