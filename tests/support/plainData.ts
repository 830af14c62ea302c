import { isPlain } from '@reduxjs/toolkit'

/**
 * The path of the first value in `v` that is not plain data (a function, a class instance, a Map…), or null: what
 * Redux's serializability check would flag in an action or the state.
 *
 * @example firstNonPlain(action, 'action') // 'action.payload.socket'
 */
export function firstNonPlain(v: unknown, path: string): string | null {
  if (v === null || typeof v !== 'object') return typeof v === 'function' ? path : null
  if (!Array.isArray(v) && !isPlain(v)) return path
  for (const [k, child] of Object.entries(v)) {
    const p = firstNonPlain(child, `${path}.${k}`)
    if (p) return p
  }
  return null
}
