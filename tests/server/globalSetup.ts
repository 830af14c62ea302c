import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { FAST_HASHING_ENV } from '../../server/passwords'
import { userTmpdir } from '../support/userTmp'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated, seeded data folder to copy per test file (PGlite's initdb costs ~6 s; a copy ~0.2 s). */
    serverTemplateDir: string
    /** The same folder, under the name the e2e support reads. */
    templateDataDir: string
    /** A folder of this run's, deleted when the run ends: the tests' copies of the template go there. */
    testRunDir: string
  }
}

const root = resolve(import.meta.dirname, '../..')

/**
 * Builds the server's template data folder once, cached in the temp folder under a hash of the code that shapes it
 * (migrations, seed, password hashing), so later runs pay nothing. Tests copy it (tests/server/support/server.ts).
 *
 * It also asks for cheap password hashing (`FAST_HASHING_ENV`, honoured only under NODE_ENV=test) in this process and
 * the workers and servers it starts: the template's demo hashes are made at that cost, so the suite's thousands of
 * logins neither pay Argon2id's 19 MiB each nor upgrade the template's hashes on every login.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  process.env[FAST_HASHING_ENV] = '1'
  const sources = ['server/db', 'server/passwords.ts'].flatMap((path) => {
    const full = join(root, path)
    return path.endsWith('.ts')
      ? [full]
      : readdirSync(full)
          .sort()
          .map((file) => join(full, file))
  })
  const hash = createHash('sha256')
  for (const file of sources) hash.update(readFileSync(file))
  // And the embedded database's version: another PGlite may not read the files of this one.
  hash.update(readFileSync(join(root, 'node_modules/@electric-sql/pglite/package.json')))
  // A folder of this OS user's: another user's run may have built one this user cannot read.
  const base = userTmpdir()
  mkdirSync(base, { recursive: true })
  const dir = join(base, `talemy-server-template-fast-hashing-${hash.digest('hex').slice(0, 16)}`)
  if (!existsSync(join(dir, 'READY'))) {
    const { openDatabase, seedIfNew } = await import('../../server/db')
    const { PasswordHasher, TEST_ONLY_ARGON2ID } = await import('../../server/passwords')
    const building = mkdtempSync(join(base, 'talemy-template-build-'))
    const db = await openDatabase({ dataDir: building })
    await seedIfNew(db, new PasswordHasher(TEST_ONLY_ARGON2ID))
    await db.close()
    writeFileSync(join(building, 'READY'), new Date().toISOString())
    try {
      renameSync(building, dir)
    } catch {
      // Another run built it at the same time: keep theirs.
      rmSync(building, { recursive: true, force: true })
    }
  }
  project.provide('serverTemplateDir', dir)
  project.provide('templateDataDir', dir)
  const runDir = mkdtempSync(join(tmpdir(), 'talemy-test-run-'))
  project.provide('testRunDir', runDir)
  return () => rmSync(runDir, { recursive: true, force: true })
}
