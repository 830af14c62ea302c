import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { freshDataDir, repoRoot } from './support/server'

// Node reads a file's birth time with statx(2). Where that call is refused (a seccomp profile without it: Docker before
// 18.04, libseccomp before 2.3.3; some network file systems), libuv falls back to stat(2) and gives the change time as
// the birth time. strace refuses statx here the same way (ENOSYS), for a process that opens the embedded database.

const STRACE = ['--seccomp-bpf', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=statx', '-e', 'inject=statx:error=ENOSYS']
const straceWorks =
  process.platform === 'linux' && spawnSync('strace', [...STRACE, 'true'], { stdio: 'ignore' }).status === 0
// Not a part CI=true requires (as tests/cluster's are): a container may refuse ptrace. `.ci/run` installs strace.
if (!straceWorks)
  console.warn(
    'tests/server/epochWithoutStatx.test.ts skipped: needs strace able to trace (apt-get install strace; Linux, ptrace allowed)',
  )

const dataDir = freshDataDir()
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

/** The log's epoch after opening the folder in a process without statx. */
function epochWithoutStatx(): string {
  const run = spawnSync(
    'strace',
    [...STRACE, process.execPath, '--import', 'tsx', join(repoRoot, 'tests/server/support/printEpoch.ts'), dataDir],
    { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' } },
  )
  expect(run.status, run.stderr).toBe(0)
  return run.stdout.trim()
}

it.runIf(straceWorks)(
  'without statx (birth times read as change times), a restart on the same folder keeps the log’s epoch',
  () => {
    const first = epochWithoutStatx()
    // The database rewrote global/pg_control in place (its change time moved), and nothing else happened to the files.
    expect(epochWithoutStatx()).toBe(first)
  },
  120_000,
)
