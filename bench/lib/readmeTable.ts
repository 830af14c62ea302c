import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from './paths'

export const TABLE_START = '<!-- bench:table:start -->'
export const TABLE_END = '<!-- bench:table:end -->'

/**
 * `readme` with the text between the table's markers replaced by `block`, formatted as Biome formats the file: `npm
 * test` checks the READMEs with Biome, and a table written plain (cells not padded to their column) failed it after
 * every full run. Answers `readme` unchanged when it has no markers.
 *
 * @example await writeFile(path, withTable(await readFile(path, 'utf8'), `Run of …\n\n${formatMarkdown(rows)}`, path))
 */
export function withTable(readme: string, block: string, path: string): string {
  const from = readme.indexOf(TABLE_START)
  const to = from === -1 ? -1 : readme.indexOf(TABLE_END, from)
  if (to === -1) return readme
  const plain = `${readme.slice(0, from)}${TABLE_START}\n${block}\n${TABLE_END}${readme.slice(to + TABLE_END.length)}`
  const biome = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['format', `--stdin-file-path=${path}`], {
    cwd: REPO_ROOT,
    input: plain,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (biome.status !== 0)
    throw new Error(`biome could not format ${path}: ${biome.error?.message ?? (biome.stderr || biome.stdout)}`)
  return biome.stdout
}
