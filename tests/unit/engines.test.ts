import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// semver comes with fastify (no types of its own here): the same range rules npm applies when it warns EBADENGINE.
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null
  satisfies(version: string, range: string): boolean
}

const root = join(import.meta.dirname, '../..')
const readJson = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'))

interface LockEntry {
  name?: string
  version?: string
  engines?: { node?: string } | string[]
}

/** A package's `engines.node` range, from the object form or the old array form (`["node >= 14"]`). */
function nodeRange(engines: LockEntry['engines']): string | undefined {
  if (Array.isArray(engines)) return engines.find((entry) => /^node\b/.test(entry))?.replace(/^node\s*/, '')
  return engines?.node
}

/** Every package in the lock whose `engines.node` excludes the lowest Node the project says it runs on. */
function excluding(lock: { packages: Record<string, LockEntry> }, projectRange: string): string[] {
  const lowest = semver.minVersion(projectRange)?.version
  if (!lowest) throw new Error(`package.json engines.node is not a range: ${projectRange}`)
  return Object.entries(lock.packages).flatMap(([path, entry]) => {
    const range = nodeRange(entry.engines)
    if (range === undefined || semver.satisfies(lowest, range)) return []
    return [`${path || '(root)'}@${entry.version}: engines.node "${range}" excludes Node ${lowest}`]
  })
}

describe('dependencies run on the Node version package.json promises (no EBADENGINE on npm install)', () => {
  it('no package in package-lock.json declares an engines.node range that excludes it', () => {
    const projectRange: string = readJson('package.json').engines.node
    expect(excluding(readJson('package-lock.json'), projectRange)).toEqual([])
  })

  it.each<[string, LockEntry['engines'], boolean]>([
    ['>=22 excludes 20.19', { node: '>=22' }, true],
    ['^20.19.0 || >=22.12.0 admits it', { node: '^20.19.0 || >=22.12.0' }, false],
    ['>=20.20 excludes 20.19.0 (a patch level matters too)', { node: '>=20.20' }, true],
    ['the old array form is read', ['node >= 22'], true],
    ['no node range at all', { npm: '>=10' } as LockEntry['engines'], false],
  ])('the check itself: %s', (_name, engines, flagged) => {
    const lock = { packages: { 'node_modules/x': { version: '1.0.0', engines } } }
    expect(excluding(lock, '>=20.19')).toHaveLength(flagged ? 1 : 0)
  })
})
