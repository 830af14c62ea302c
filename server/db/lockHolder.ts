import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

/**
 * Who holds a data folder, as written to its `server.pid`: the pid, and on Linux the process's start time (clock
 * ticks since boot, field 22 of `/proc/<pid>/stat`) and the boot id. A pid alone is not an identity: after a SIGKILL
 * the pid in a stale file may belong to an unrelated process by the next start; the same pid with the same start time
 * in the same boot cannot.
 */
export interface LockHolder {
  pid: number
  start?: string
  boot?: string
}

/** What can be seen of a process now. Fields are absent where the platform cannot tell. */
export interface ProcessObservation {
  /** `kill(pid, 0)` succeeds: true for a zombie too. */
  alive: boolean
  /** One-letter state: `R`, `S`, `D`, `T`, … ; `Z` zombie, `X` dead (Linux `/proc`, or `ps` elsewhere; macOS `E` exiting). */
  state?: string
  /** Linux: the kernel's PF_EXITING flag: the process is in its exit path and runs no more code of its own. */
  exiting?: boolean
  /** Linux: start time in clock ticks since boot. */
  start?: string
  boot?: string
  /** Linux: `/proc/<pid>/cmdline` (NUL-separated). */
  cmdline?: string
}

/**
 * What the process named in a lock file is to the folder now. Only `holds` keeps others out; everything else is a
 * file left behind: the process is gone (`gone`), has exited and awaits its parent's `wait` (`dead`: a zombie holds no
 * files and runs no code), is already in the kernel's exit path (`exiting`), or its pid now names another process
 * (`other`).
 */
export type HolderVerdict = 'holds' | 'gone' | 'dead' | 'exiting' | 'other'

/**
 * Decides whether `holder` (from a lock file) still holds the folder, given what is seen of its pid now. Pure.
 *
 * @example judgeHolder({ pid: 7, start: '100' }, { alive: true, state: 'Z', start: '100' }) // 'dead'
 */
export function judgeHolder(holder: LockHolder, seen: ProcessObservation): HolderVerdict {
  if (!seen.alive) return 'gone'
  if (seen.state === 'Z' || seen.state === 'X' || seen.state === 'x') return 'dead'
  if (seen.exiting || seen.state === 'E') return 'exiting'
  if (holder.start !== undefined && seen.start !== undefined) {
    if (holder.start !== seen.start) return 'other'
    if (holder.boot !== undefined && seen.boot !== undefined && holder.boot !== seen.boot) return 'other'
    return 'holds'
  }
  // A bare pid (an older version's file): only a node process running our server entry counts, where we can see it.
  if (holder.start === undefined && seen.cmdline !== undefined)
    return isServerCommandLine(seen.cmdline) ? 'holds' : 'other'
  // Alive, and nothing more to go by: it may be the holder.
  return 'holds'
}

export interface ProcStat {
  state: string
  /** Field 9, the kernel's per-process flags. */
  flags: number
  /** Field 22, start time in clock ticks since boot. */
  start: string
}

/** The kernel's PF_EXITING (include/linux/sched.h): set when the process starts to exit, before it closes its files. */
const PF_EXITING = 0x4

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself hold spaces and parentheses,
 * so fields are counted from the last `)`. Pure.
 *
 * @example parseProcStat('42 (node) Z 1 42 42 0 -1 4194564 …')?.state // 'Z'
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ')
  const [state, flags, start] = [fields[0], fields[6], fields[19]]
  if (!state || !/^[A-Za-z]$/.test(state) || !flags || !/^\d+$/.test(flags) || !start || !/^\d+$/.test(start))
    return undefined
  return { state, flags: Number(flags), start }
}

/** Whether parsed flags have PF_EXITING. */
export const isExiting = (stat: ProcStat): boolean => (stat.flags & PF_EXITING) !== 0

/** The state letter from `ps -o stat= -p <pid>` (`Ss`, `Z+`, `E`, …); undefined for empty output. Pure. */
export function parsePsState(output: string): string | undefined {
  const letter = output.trim()[0]
  return letter && /[A-Za-z]/.test(letter) ? letter : undefined
}

export type Observe = (pid: number) => ProcessObservation

/** Linux: `kill(pid, 0)`, then state, flags and start time from `/proc/<pid>/stat`, the boot id and the command line. */
export const observeWithProc =
  (procRoot = '/proc'): Observe =>
  (pid) => {
    if (!isAlive(pid)) return { alive: false }
    const stat = parseProcStat(readOrUndefined(`${procRoot}/${pid}/stat`) ?? '')
    // Reaped between the two looks, or hidden from us (hidepid): alive is all we know.
    if (!stat) return { alive: true }
    const boot = readOrUndefined(`${procRoot}/sys/kernel/random/boot_id`)?.trim()
    const cmdline = readOrUndefined(`${procRoot}/${pid}/cmdline`)
    return {
      alive: true,
      state: stat.state,
      exiting: isExiting(stat),
      start: stat.start,
      ...(boot ? { boot } : {}),
      ...(cmdline !== undefined ? { cmdline } : {}),
    }
  }

/** Other POSIX systems (macOS, BSD): `kill(pid, 0)`, then the state letter from `ps`, which shows a zombie as `Z`. */
export const observeWithPs: Observe = (pid) => {
  if (!isAlive(pid)) return { alive: false }
  const ps = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8', timeout: 5_000 })
  const state = ps.status === 0 ? parsePsState(ps.stdout) : undefined
  return state ? { alive: true, state } : { alive: true }
}

/** Windows: whether the pid is running, nothing more. */
export const observeWithKill: Observe = (pid) => ({ alive: isAlive(pid) })

/** The best observation this platform offers. */
export function defaultObserve(platform = process.platform): Observe {
  if (platform === 'linux') return observeWithProc()
  return platform === 'win32' ? observeWithKill : observeWithPs
}

/** This process's identity for the lock file (with start time and boot id where `/proc` has them). */
export function describeSelf(observe: Observe = defaultObserve()): LockHolder {
  const seen = observe(process.pid)
  return {
    pid: process.pid,
    ...(seen.start !== undefined ? { start: seen.start } : {}),
    ...(seen.boot !== undefined ? { boot: seen.boot } : {}),
  }
}

/** `/proc/<pid>/cmdline` (NUL-separated) of a node process running `server/main` (`main.ts` under tsx, or built). */
export function isServerCommandLine(cmdline: string | undefined): boolean {
  if (!cmdline) return false
  const [program = '', ...args] = cmdline.split('\u0000').filter(Boolean)
  if (!/^node(js)?(\d+(\.\d+)*)?(\.exe)?$/i.test(basename(program))) return false
  return args.some((arg) => /(^|[\\/])server[\\/]main\.[cm]?[jt]s$/.test(arg))
}

/** A lock file's content: this version's JSON, or an older version's bare pid. Undefined when unreadable. */
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}
