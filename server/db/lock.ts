import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'

/**
 * Who holds a data folder: the pid, and on Linux the process's start time (clock ticks since boot, field 22 of
 * `/proc/<pid>/stat`) and the boot id. A pid alone is not an identity: after a SIGKILL the pid in a stale file may
 * belong to an unrelated process by the next start; the same pid with the same start time in the same boot cannot.
 */
export interface LockHolder {
  pid: number
  start?: string
  boot?: string
}

export interface LockOptions {
  /** Where `/proc` is; `null` when there is none (not Linux): then any live pid counts as a holder. */
  procRoot?: string | null
}

const defaultProcRoot = (): string | null => (process.platform === 'linux' ? '/proc' : null)

/**
 * Takes `file` for this process, refusing (throws "… is in use by another server (pid N)") when the process named in
 * it still holds it. The file is created exclusively (`wx`), so two servers starting together cannot both take it;
 * a stale one is removed and the take retried. Returns the release function, which removes the file only while it is
 * still ours.
 *
 * Stale means: the pid is dead; or (Linux) the process with that pid now is not the one that wrote the file (another
 * start time or boot). A file holding only a pid (written by an older version) names a holder on Linux only when that
 * pid is a node process running the server entry (`server/main`); elsewhere, when the pid is alive. A second server in
 * this very process is refused too (on Linux, where the file tells this process from an earlier one with its pid).
 */
export function lockFolder(file: string, options: LockOptions = {}): () => void {
  const procRoot = options.procRoot === undefined ? defaultProcRoot() : options.procRoot
  const mine = JSON.stringify(describeProcess(process.pid, procRoot) ?? { pid: process.pid })
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx' })
      return () => {
        if (readOrUndefined(file) === mine) rmSync(file, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const text = readOrUndefined(file)
    if (text === undefined) continue // released meanwhile: try again
    const holder = parseHolder(text)
    // A bare pid equal to ours was written by an earlier process that had our pid (we write our start time).
    const ownBarePid = holder?.pid === process.pid && holder.start === undefined
    if (holder && !ownBarePid && holdsLock(holder, procRoot)) {
      throw new Error(`${dirname(file)} is in use by another server (pid ${holder.pid})`)
    }
    // Stale: remove it, unless someone replaced it in the meantime.
    if (readOrUndefined(file) === text) rmSync(file, { force: true })
  }
  throw new Error(`${dirname(file)}: could not take ${basename(file)}`)
}

/** The identity of a live process (undefined when it is not running), as written to the lock file. */
export function describeProcess(pid: number, procRoot: string | null = defaultProcRoot()): LockHolder | undefined {
  if (procRoot === null) return isAlive(pid) ? { pid } : undefined
  const start = startTime(pid, procRoot)
  if (start === undefined) return undefined
  const boot = readOrUndefined(`${procRoot}/sys/kernel/random/boot_id`)?.trim()
  return boot ? { pid, start, boot } : { pid, start }
}

/** Whether the process named by `holder` is alive and is the one that took the lock. */
export function holdsLock(holder: LockHolder, procRoot: string | null = defaultProcRoot()): boolean {
  if (!isAlive(holder.pid)) return false
  if (procRoot === null) return true
  const now = describeProcess(holder.pid, procRoot)
  if (!now) return false
  if (holder.start !== undefined) {
    return now.start === holder.start && (holder.boot === undefined || now.boot === undefined || holder.boot === now.boot)
  }
  // A bare pid (an older version's file): only a node process running our server entry counts.
  return isServerCommandLine(readOrUndefined(`${procRoot}/${holder.pid}/cmdline`))
}

/** `/proc/<pid>/cmdline` (NUL-separated) of a node process running `server/main` (`main.ts` under tsx, or built). */
export function isServerCommandLine(cmdline: string | undefined): boolean {
  if (!cmdline) return false
  const [program = '', ...args] = cmdline.split('\u0000').filter(Boolean)
  if (!/^node(js)?(\d+(\.\d+)*)?(\.exe)?$/i.test(basename(program))) return false
  return args.some((arg) => /(^|[\\/])server[\\/]main\.[cm]?[jt]s$/.test(arg))
}

export function parseHolder(text: string): LockHolder | undefined {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return validPid(Number(trimmed)) ? { pid: Number(trimmed) } : undefined
  try {
    const value = JSON.parse(trimmed) as Partial<Record<keyof LockHolder, unknown>>
    if (!validPid(value.pid)) return undefined
    return {
      pid: value.pid,
      ...(typeof value.start === 'string' ? { start: value.start } : {}),
      ...(typeof value.boot === 'string' ? { boot: value.boot } : {}),
    }
  } catch {
    return undefined
  }
}

const validPid = (pid: unknown): pid is number => typeof pid === 'number' && Number.isInteger(pid) && pid > 0

/** Field 22 of `/proc/<pid>/stat` (after the command name, which may hold spaces and parentheses). */
function startTime(pid: number, procRoot: string): string | undefined {
  const stat = readOrUndefined(`${procRoot}/${pid}/stat`)
  if (!stat) return undefined
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[19]
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}
