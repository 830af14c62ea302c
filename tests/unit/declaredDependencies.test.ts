// Every package the code imports (or require()s) is declared in package.json, not only present because npm
// hoisted it from another package's dependencies (`semver` from fastify, `immer` from @reduxjs/toolkit).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { expect, test } from 'vitest'

const root = join(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})])

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue
    const full = join(dir, entry)
    if (statSync(full).isDirectory()) yield* files(full)
    else if (/\.(m?[jt]sx?)$/.test(entry)) yield full
  }
}

const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!)

test('no undeclared (hoisted-only) imports', () => {
  const undeclared: string[] = []
  const roots = ['src', 'server', 'tests', 'bench', 'scripts'].map((d) => join(root, d)).filter((d) => existsSync(d))
  const configs = ['vite.config.ts', 'vitest.config.ts'].map((f) => join(root, f)).filter((f) => existsSync(f))
  for (const file of [...roots.flatMap((d) => [...files(d)]), ...configs]) {
    const text = readFileSync(file, 'utf8')
    const re =
      /(?:^\s*import\s[^'"]*?from\s*|^\s*import\s*|\bimport\(\s*|\brequire\(\s*|createRequire\([^)]*\)\(\s*)['"]([^'".][^'"]*)['"]/gm
    for (const m of text.matchAll(re)) {
      const spec = m[1]!
      if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue
      const name = packageOf(spec)
      if (!declared.has(name)) undeclared.push(`${file.slice(root.length + 1)}: ${name}`)
    }
  }
  expect(undeclared).toEqual([])
})
