/**
 * Preloaded into a server child process (`NODE_OPTIONS=--import <this file>`, after tsx): the process SIGKILLs itself
 * the moment a write to a file whose path matches `KILL_AFTER_WRITE` (a regular expression) has returned, before it
 * writes anything else. A crash at an exact point of the embedded database's file writes (PGlite's files go through
 * Node's `fs` from inside its WebAssembly module), which a kill from outside could only hit by luck. Plain JavaScript:
 * those writes happen on the database's worker thread, which gets this preload too but not tsx's loader.
 */
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'

const pattern = process.env.KILL_AFTER_WRITE
if (pattern) {
  const target = new RegExp(pattern)
  const paths = new Map()
  const { openSync, writeSync, closeSync } = fs
  fs.openSync = (path, ...rest) => {
    const fd = openSync(path, ...rest)
    paths.set(fd, String(path))
    return fd
  }
  fs.closeSync = (fd) => {
    paths.delete(fd)
    closeSync(fd)
  }
  fs.writeSync = (fd, ...rest) => {
    const written = writeSync(fd, ...rest)
    const path = paths.get(fd)
    if (path !== undefined && target.test(path)) {
      // Straight to the file descriptor: on a worker thread `process.stderr` goes through the main thread, which the
      // kill below may beat.
      writeSync(2, `killAfterWrite: killed after writing ${path}\n`)
      process.kill(process.pid, 'SIGKILL')
    }
    return written
  }
  syncBuiltinESMExports()
}
