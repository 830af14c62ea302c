/**
 * A JSON answer, as the API gives one: `body` as JSON, with its content type, and `status`.
 *
 * @example const fetchFn = (async () => json(200, [message(1)])) as typeof fetch
 */
export const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
