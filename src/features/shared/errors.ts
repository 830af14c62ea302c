import type { ApiError } from '../../contract'

/** A sentence for the user from an RTK Query error (`FetchBaseQueryError`, `SerializedError`) or anything thrown. */
export function errorMessage(error: unknown, fallback = 'Something went wrong. Please try again.'): string {
  if (!error || typeof error !== 'object') return fallback
  const e = error as { status?: unknown; data?: unknown; message?: unknown }
  if (e.status === 'FETCH_ERROR' || e.status === 'TIMEOUT_ERROR') return 'Could not reach the server. Check your connection.'
  const apiError = (e.data as { error?: ApiError } | undefined)?.error
  if (apiError && typeof apiError.message === 'string') {
    if (apiError.code === 'RATE_LIMITED') return 'Too many requests; wait a moment and try again.'
    return apiError.message
  }
  if (typeof e.message === 'string' && e.message) return e.message
  return fallback
}
