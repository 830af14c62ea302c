/**
 * Preloaded into a server child process (`NODE_OPTIONS=--import <this file>`, after tsx): the process SIGKILLs itself
 * the moment a write to a file whose path matches `KILL_AFTER_WRITE` (a regular expression) has returned, before it
 * writes anything else. A crash at an exact point of the embedded database's file writes (PGlite's files go through
 * Node's `fs` from inside its WebAssembly module), which a kill from outside could only hit by luck.
 */
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'

const pattern = process.env.KILL_AFTER_WRITE
if (pattern) {
  const target = new RegExp(pattern)
  const paths = new Map<number, string>()
  const { openSync, writeSync, closeSync } = fs
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...args: unknown[]) => number)(path, ...rest)
    paths.set(fd, String(path))
    return fd
  }) as typeof fs.openSync
  fs.closeSync = ((fd: number) => {
    paths.delete(fd)
    closeSync(fd)
  }) as typeof fs.closeSync
  fs.writeSync = ((fd: number, ...rest: unknown[]) => {
    const written = (writeSync as (...args: unknown[]) => number)(fd, ...rest)
    const path = paths.get(fd)
    if (path !== undefined && target.test(path)) {
      process.stderr.write(`killAfterWrite: killed after writing ${path}\n`)
      process.kill(process.pid, 'SIGKILL')
    }
    return written
  }) as typeof fs.writeSync
  syncBuiltinESMExports()
}
