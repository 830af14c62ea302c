/** Limits both sides agree on; the server enforces them, the browser checks them before sending. */
export const MAX_CONTENT_LENGTH = 4000
export const MAX_CLIENT_ID_LENGTH = 100
/** Socket.IO's `maxHttpBufferSize`: a bigger packet closes its connection. */
export const MAX_PACKET_BYTES = 64 * 1024
export const MAX_LESSON_SUBJECT_LENGTH = 200
/** The years a lesson's `startsAt` may fall in (UTC). */
export const LESSON_YEARS = { min: 2000, max: 2100 } as const
export const MAX_CONTACT_MESSAGE_LENGTH = 2000
export const DEFAULT_MESSAGE_PAGE = 50
export const MAX_MESSAGE_PAGE = 200
/** The most people a `presence:snapshot` lists (the browser refuses a longer one). */
export const MAX_PRESENCE_SNAPSHOT = 10_000
