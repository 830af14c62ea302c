// @ts-check
// JavaScript, as pgliteThread.js (which runs it on the database thread, without the TypeScript loader) must be.

/**
 * `error` without the input it quotes, when it is a data exception (SQLSTATE class 22): PostgreSQL names the value it
 * could not take in the message itself ('invalid input syntax for type integer: "…"', 'value "…" is out of range for
 * type integer'), and a logger writes the message and the stack that repeats it, so a user's text would reach the logs.
 * Both then say the code and that the message is withheld; `code`, `routine` and the parameterized `query` stay, for
 * the operator. Any other error is left as it is. Changed in place, for both backends (pgliteThread.js, postgres.ts).
 *
 * @example withoutQuotedInput(error).message // 'data exception 22P02: message withheld, it quotes the input'
 * @template {Error & { code?: unknown }} E
 * @param {E} error
 * @returns {E}
 */
export function withoutQuotedInput(error) {
  if (typeof error.code !== 'string' || !error.code.startsWith('22')) return error
  const quoted = error.message
  // Read before the message changes: V8 may write the stack (its head, from the message) only when first read. The
  // message is replaced there wherever it stands (a value with line breaks spans several lines); a stack without it as
  // it was is cut to a head of its own.
  const stack = typeof error.stack === 'string' ? error.stack : ''
  const message = `data exception ${error.code}: message withheld, it quotes the input`
  error.message = message
  const at = quoted ? stack.indexOf(quoted) : -1
  error.stack = at >= 0 ? stack.slice(0, at) + message + stack.slice(at + quoted.length) : `${error.name}: ${message}`
  return error
}
