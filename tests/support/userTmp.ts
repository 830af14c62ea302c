import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

/**
 * The temp folder's part for this OS user, for what the tests cache between runs (the server's template data folder,
 * the unpacked Chromium): what one user leaves there, another may not be able to read or replace.
 */
export function userTmpdir(): string {
  return join(tmpdir(), `talemy-${process.getuid?.() ?? userInfo().username}`)
}
