// What the browser reads from the server (entities, acks, error bodies, events) is checked with these small
// combinators rather than a schema library: a check is a plain function, so the browser ships a few hundred bytes
// instead of a validation library (the layer has a size budget, P5). What the server accepts from clients keeps
// valibot (`./requests`).

export interface ValidationIssue {
  /** Dotted path to the offending field, `''` for the value itself. */
  path: string
  /** What is wrong, in our own words: never the raw input. */
  message: string
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] }

export const MAX_REPORTED_ISSUES = 10

/**
 * A compiled check: returns a fresh value holding only the contract's fields, or adds at least one issue under
 * `path` (and then what it returns means nothing).
 */
export type Check<T> = (input: unknown, issues: ValidationIssue[], path: string) => T

/** The value a check accepts. */
export type Infer<C> = C extends Check<infer T> ? T : never

/** One rule after the type check: what is wrong with the value, or undefined. */
export type Rule<T> = (value: T) => string | undefined

function fail(issues: ValidationIssue[], path: string, message: string): never {
  issues.push({ path, message })
  return undefined as never
}

const at = (path: string, key: string) => (path ? `${path}.${key}` : key)

const isRecord = (input: unknown): input is Record<string, unknown> => typeof input === 'object' && input !== null

/*@__NO_SIDE_EFFECTS__*/
function typed<T>(expected: string, is: (input: unknown) => boolean, rules: Rule<T>[]): Check<T> {
  return (input, issues, path) => {
    if (!is(input)) return fail(issues, path, input === undefined ? 'is required' : `expected ${expected}`)
    for (const rule of rules) {
      const problem = rule(input as T)
      if (problem) return fail(issues, path, problem)
    }
    return input as T
  }
}

/**
 * A string that passes each rule in turn.
 *
 * @example string(minLength(1, 'must not be empty'))
 */
/*@__NO_SIDE_EFFECTS__*/
export const string = (...rules: Rule<string>[]): Check<string> =>
  typed('string', (input) => typeof input === 'string', rules)

/** A number (not NaN) that passes each rule in turn. @example number(integer, atLeast(1)) */
/*@__NO_SIDE_EFFECTS__*/
export const number = (...rules: Rule<number>[]): Check<number> =>
  typed('number', (input) => typeof input === 'number' && !Number.isNaN(input), rules)

export const boolean: Check<boolean> = /*@__PURE__*/ typed('boolean', (input) => typeof input === 'boolean', [])

/** Anything, as it is (an ack's `data`, checked by whoever reads it). */
export const unknown: Check<unknown> = (input) => input

/*@__NO_SIDE_EFFECTS__*/
export const minLength =
  (min: number, message: string): Rule<string | unknown[]> =>
  (value) =>
    value.length < min ? message : undefined

/*@__NO_SIDE_EFFECTS__*/
export const maxLength =
  (max: number, message = 'is too long'): Rule<string | unknown[]> =>
  (value) =>
    value.length > max ? message : undefined

/*@__NO_SIDE_EFFECTS__*/
export const pattern =
  (regex: RegExp, message: string): Rule<string> =>
  (value) =>
    regex.test(value) ? undefined : message

export const integer: Rule<number> = (value) => (Number.isInteger(value) ? undefined : 'must be a whole number')

/*@__NO_SIDE_EFFECTS__*/
export const atLeast =
  (min: number): Rule<number> =>
  (value) =>
    value < min ? `must be at least ${min}` : undefined

/** One of a few strings. @example picklist(['student', 'tutor']) */
/*@__NO_SIDE_EFFECTS__*/
export function picklist<const T extends string>(options: readonly T[]): Check<T> {
  return typed<T>(options.join(' | '), (input) => options.includes(input as T), [])
}

/** Exactly `value`. @example literal(0) */
/*@__NO_SIDE_EFFECTS__*/
export function literal<const T extends string | number | boolean>(value: T): Check<T> {
  return typed<T>(JSON.stringify(value), (input) => input === value, [])
}

/*@__NO_SIDE_EFFECTS__*/
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (input, issues, path) => (input === null ? null : check(input, issues, path))
}

/** A field that may be missing (left out of the value then). */
/*@__NO_SIDE_EFFECTS__*/
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (input, issues, path) => (input === undefined ? undefined : check(input, issues, path))
}

/** A list whose items each pass `item`, of at most `max` items. */
/*@__NO_SIDE_EFFECTS__*/
export function array<T>(item: Check<T>, max = Number.POSITIVE_INFINITY): Check<T[]> {
  return (input, issues, path) => {
    if (!Array.isArray(input)) return fail(issues, path, input === undefined ? 'is required' : 'expected Array')
    if (input.length > max) return fail(issues, path, 'is too long')
    return input.map((value, i) => item(value, issues, at(path, String(i))))
  }
}

/**
 * An object used as a map: each own key passes `key` and its value passes `value`. `__proto__`, `prototype` and
 * `constructor` are dropped, so the fresh object cannot pollute a prototype.
 */
/*@__NO_SIDE_EFFECTS__*/
export function record<T>(key: Check<string>, value: Check<T>): Check<Record<string, T>> {
  return (input, issues, path) => {
    if (!isRecord(input)) return fail(issues, path, input === undefined ? 'is required' : 'expected Object')
    const out: Record<string, T> = {}
    const keys = Object.keys(input)
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string
      if (k === '__proto__' || k === 'prototype' || k === 'constructor') continue
      // A key that fails its check is raw input (it may be huge): its issues name its place instead.
      const before = issues.length
      key(k, issues, k)
      const name = issues.length === before ? k : `[key ${i}]`
      for (let j = before; j < issues.length; j++) issues[j] = { path: at(path, name), message: issues[j]!.message }
      out[k] = value(input[k], issues, at(path, name))
    }
    return out
  }
}

/** The shape of `T`: one check per field, optional fields with `optional`. */
export type Shape<T> = { [K in keyof T]-?: Check<T[K]> }

/**
 * An object of `T`'s fields, each passing its check: a fresh object with only those fields (unknown keys,
 * `__proto__` included, are dropped).
 *
 * @example const point = object<{ x: number }>({ x: number() }); parse(point, { x: 1, y: 2 }) // { ok: true, value: { x: 1 } }
 */
/*@__NO_SIDE_EFFECTS__*/
export function object<T>(shape: Shape<T>): Check<T> {
  const keys = Object.keys(shape) as (keyof T & string)[]
  return (input, issues, path) => {
    if (!isRecord(input)) return fail(issues, path, input === undefined ? 'is required' : 'expected Object')
    const out = {} as T
    for (const key of keys) {
      const value = shape[key](input[key], issues, at(path, key))
      if (value !== undefined) out[key] = value
    }
    return out
  }
}

/**
 * Runs `check` on `input`: the fresh value, or at most ten issues that name fields but never echo the raw input.
 *
 * @example parse(messageSchema, payload) // { ok: true, value } | { ok: false, issues: [{ path: 'seq', message: … }] }
 */
export function parse<T>(check: Check<T>, input: unknown): ParseResult<T> {
  const issues: ValidationIssue[] = []
  const value = check(input, issues, '')
  return issues.length === 0 ? { ok: true, value } : { ok: false, issues: issues.slice(0, MAX_REPORTED_ISSUES) }
}

/** One line naming the fields, for an `INVALID` error: "content: must not be empty; clientId: must be a string". */
export function describeIssues(issues: ValidationIssue[]): string {
  return issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ')
}
