#!/usr/bin/env node
/**
 * `npm run test:load`: the whole suite (`npm test`) while CPU-burning processes run beside it, to show that no test
 * depends on the machine being quick. Prints the duration and the load average seen, and exits with the suite's code.
 *
 * The burners are `node -e` busy loops that stop by themselves after a bound (TEST_LOAD_BURN_MINUTES, default 20) or
 * as soon as this script is gone (their parent changes), so nothing keeps burning after a crash, a kill or Ctrl-C; on
 * a normal end (pass or fail) this script kills them and waits for them to exit.
 *
 * Usage: `node scripts/test-load.mjs [command …]` (default `npm test`); TEST_LOAD_BURNERS sets how many (default 2).
 *
 * @example npm run test:load                              # npm test beside two burners
 * @example node scripts/test-load.mjs npx vitest run tests/server   # one part of the suite under the same load
 */
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'

const burnMinutes = Number(process.env.TEST_LOAD_BURN_MINUTES ?? 20)
const burnerCount = Number(process.env.TEST_LOAD_BURNERS ?? 2)
const command = process.argv.length > 2 ? process.argv.slice(2) : ['npm', 'test']

// Checks the clock and its parent only every million turns: nearly all of its time is spent burning. The parent's pid
// is written in, not read at start: this script may already be gone by the time a burner starts.
const burnLoop = `
const end = Date.now() + ${Math.round(burnMinutes * 60_000)}
const parent = ${process.pid}
for (let i = 0; ; i++) {
  if (i % 1e6 === 0 && (Date.now() > end || process.ppid !== parent)) process.exit(0)
}`

const burners = Array.from({ length: burnerCount }, () =>
  spawn(process.execPath, ['-e', burnLoop], { stdio: 'ignore' }),
)
const burnersExited = burners.map((child) => new Promise((resolve) => child.once('exit', resolve)))
console.log(
  `test:load: ${burnerCount} CPU burners (pids ${burners.map((b) => b.pid).join(' ')}, at most ${burnMinutes} min) beside: ${command.join(' ')}`,
)

const started = Date.now()
const samples = [loadavg()[0]]
const sampler = setInterval(() => samples.push(loadavg()[0]), 5_000)

let stopping = false
async function stopBurners() {
  if (stopping) return
  stopping = true
  clearInterval(sampler)
  for (const child of burners) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(burnersExited)
}

function report(code) {
  const seconds = (Date.now() - started) / 1000
  const peak = Math.max(...samples)
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length
  console.log(
    `test:load: exit code ${code} after ${seconds.toFixed(0)} s (${(seconds / 60).toFixed(1)} min); ` +
      `1-minute load average: mean ${mean.toFixed(1)}, peak ${peak.toFixed(1)} (${samples.length} samples)`,
  )
}

const tests = spawn(command[0], command.slice(1), { stdio: 'inherit' })

// Ctrl-C reaches the whole process group (the suite stops by itself); a TERM sent to this script alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (tests.exitCode === null && tests.signalCode === null) tests.kill(signal)
    void stopBurners()
  })
}

let finished = false
async function finish(code) {
  if (finished) return
  finished = true
  await stopBurners()
  report(code)
  process.exit(code)
}

tests.once('error', (error) => {
  console.error(`test:load: could not start ${command.join(' ')}: ${error.message}`)
  void finish(1)
})
tests.once('exit', (code, signal) => void finish(code ?? (signal === 'SIGINT' ? 130 : 1)))
