/**
 * Limits both sides agree on; the server enforces them, the browser checks them before sending. A text's limit is in
 * characters (`characterCount`).
 */
export const MAX_CONTENT_LENGTH = 4000
export const MAX_CLIENT_ID_LENGTH = 100
/** Socket.IO's `maxHttpBufferSize`: a bigger packet closes its connection. */
export const MAX_PACKET_BYTES = 64 * 1024
/**
 * The server's heartbeat (Engine.IO's `pingInterval` and `pingTimeout`): a ping this often, and a connection that has
 * not answered within the timeout is closed. A connection that died silently (a laptop's lid closed, its network gone)
 * is found out only so: until then its reader still counts as looking at the conversation he joined, and what is sent
 * to him is marked read. Socket.IO's defaults (25 s and 20 s) left that up to 45 s; these, up to 20 s. The timeout
 * stays well above a busy server's stalls (a pong read late is a connection dropped) and a mobile network's round trip.
 */
export const SOCKET_PING_INTERVAL_MS = 10_000
export const SOCKET_PING_TIMEOUT_MS = 10_000
export const MAX_LESSON_SUBJECT_LENGTH = 200
/** The years a lesson's `startsAt` may fall in (UTC). */
export const LESSON_YEARS = { min: 2000, max: 2100 } as const
export const MAX_CONTACT_MESSAGE_LENGTH = 2000
export const DEFAULT_MESSAGE_PAGE = 50
export const MAX_MESSAGE_PAGE = 200
/** The most people a `presence:snapshot` lists (the browser refuses a longer one). */
export const MAX_PRESENCE_SNAPSHOT = 10_000

/**
 * A text's length as its limits count it: in characters, that is Unicode code points (an emoji is one, as PostgreSQL's
 * `char_length` counts), not the UTF-16 units of JavaScript's `length`, which count it twice.
 *
 * @example characterCount('hé😀') // 3
 */
export function characterCount(text: string): number {
  let count = 0
  for (let i = 0; i < text.length; i++, count++) {
    const unit = text.charCodeAt(i)
    // A high surrogate followed by a low one is one character; a lone one counts as itself.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) i++
    }
  }
  return count
}

/**
 * Whether `text` has more than `max` characters (`characterCount`). Counted only past `max` UTF-16 units: below, it
 * cannot be over, and a message's check runs on every send and every event.
 */
export function overCharacters(text: string, max: number): boolean {
  return text.length > max && (text.length > 2 * max || characterCount(text) > max)
}
