import type { StorageLike } from '../realtime'

/**
 * A Web Storage stand-in kept in memory (Node, tests, browsers with storage disabled).
 *
 * @example makeStore({ storage: createMemoryStorage() })
 */
export function createMemoryStorage(): StorageLike {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, String(value)),
    removeItem: (key) => void items.delete(key),
  }
}

/** The page's `localStorage`, or undefined where there is none or it is disabled. */
export function browserStorage(): StorageLike | undefined {
  try {
    return typeof localStorage !== 'undefined' && localStorage ? localStorage : undefined
  } catch {
    return undefined
  }
}

function envApiUrl(): string | undefined {
  try {
    // Vite replaces these at build time (`envPrefix` covers both; NEXT_PUBLIC_ is the first integration's name).
    return import.meta.env.VITE_API_URL || import.meta.env.NEXT_PUBLIC_API_URL || undefined
  } catch {
    // Outside Vite (Node, tsx) there is no import.meta.env.
    return undefined
  }
}

/** The API's origin: the build's `VITE_API_URL`/`NEXT_PUBLIC_API_URL`, else the page's own origin, else ''. */
export function defaultApiUrl(): string {
  const fromEnv = envApiUrl()
  if (fromEnv) return fromEnv
  return typeof window !== 'undefined' && window.location ? window.location.origin : ''
}
