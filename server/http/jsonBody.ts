import { AppError } from '../errors'

/**
 * A request body sent as JSON: INVALID when it is not JSON, when an object gives a key twice (JSON.parse would keep
 * the last, whatever the sender or a proxy reading the first meant), or when it names `__proto__` or
 * `constructor.prototype` (what Fastify's parser refused, as "not valid JSON"). An empty body is no body.
 *
 * @example parseJsonBody('{"status":"cancelled","status":"confirmed"}') // throws INVALID 'status: given twice'
 */
export function parseJsonBody(text: string): unknown {
  // As Fastify's parser did: a byte order mark is no part of the JSON.
  const json = text.startsWith('\uFEFF') ? text.slice(1) : text
  if (json.trim() === '') return undefined
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    throw new AppError('INVALID', 'body: not valid JSON')
  }
  const problem = keyProblem(json)
  if (problem) throw new AppError('INVALID', problem)
  return value
}

interface Level {
  /** The keys met so far in this object; null in an array. */
  keys: Set<string> | null
  /** Where this object or array is, from the body's root (`x.a`), for the message. */
  path: string
  /** The key this object sits under, to tell `constructor.prototype`. */
  key: string | undefined
}

/** What is wrong with the keys of `json`, which is valid JSON; undefined when nothing. Linear in its length. */
function keyProblem(json: string): string | undefined {
  const stack: Level[] = []
  let expectingKey = false
  let lastKey: string | undefined
  for (let i = 0; i < json.length; i++) {
    const char = json[i]
    const top = stack.at(-1)
    if (char === '"') {
      let end = i + 1
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1
      if (top?.keys && expectingKey) {
        const key = JSON.parse(json.slice(i, end + 1)) as string
        const path = top.path ? `${top.path}.${key}` : key
        if (key === '__proto__' || (key === 'prototype' && top.key === 'constructor')) {
          return `body: a key named ${key === '__proto__' ? '__proto__' : 'constructor.prototype'} is not allowed`
        }
        if (top.keys.has(key)) return `${path.slice(0, 200)}: given twice`
        top.keys.add(key)
        lastKey = key
        expectingKey = false
      }
      i = end
    } else if (char === '{' || char === '[') {
      const key = top?.keys ? lastKey : undefined
      const path = key === undefined ? (top?.path ?? '') : top?.path ? `${top.path}.${key}` : key
      stack.push({ keys: char === '{' ? new Set() : null, path, key })
      expectingKey = char === '{'
    } else if (char === '}' || char === ']') {
      stack.pop()
    } else if (char === ',') {
      expectingKey = top?.keys !== null && top !== undefined
    }
  }
  return undefined
}
