import type * as fs from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { makeDataFolder } from '../../server/db/dataFolder'

// The answer of a file system mounted read-only (a container's read-only root, a `ro` volume) to the write check: a
// real one needs `mount`, which a test may not have. Every other call goes to the real `node:fs`.
let readOnly = false
vi.mock('node:fs', async (original) => {
  const real = await original<typeof fs>()
  return {
    ...real,
    accessSync: (path: fs.PathLike, mode?: number) => {
      if (readOnly) throw Object.assign(new Error(`EROFS: read-only file system, access '${path}'`), { code: 'EROFS' })
      return real.accessSync(path, mode)
    },
  }
})

describe('makeDataFolder', () => {
  const base = mkdtempSync(join(tmpdir(), 'talemy-data-folder-'))
  afterAll(() => rmSync(base, { recursive: true, force: true }))

  // Review: the refusal advised giving the folder to the server's account, which no owner or mode can mend on a
  // read-only file system; what does is a folder elsewhere, which DATA_DIR names.
  it('on a read-only file system: says so and names the remedy (DATA_DIR on a writable one), not its ownership', () => {
    readOnly = true
    let refusal: unknown
    try {
      makeDataFolder(base)
    } catch (error) {
      refusal = error
    } finally {
      readOnly = false
    }
    expect((refusal as Error | undefined)?.message).toBe(
      `DATA_DIR=${base} cannot be used: ${base} cannot be written to (a read-only file system): set DATA_DIR to a ` +
        'folder on a file system mounted read-write',
    )
  })
})
