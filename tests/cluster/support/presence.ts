import { expect, vi } from 'vitest'
import { recordingFromHandshake, type ClientSocket } from '../../server/support/server'
import { hangBound } from '../../support/hangBound'

/** An event a watching socket received, in order. */
export type PresenceItem = { event: string; payload: Record<string, unknown> }

/**
 * A socket that records every event it receives (`items`), its listener in place before the handshake: a
 * `presence:snapshot` read in the same chunk as the connect packet is handled before an `await connect(…)` returns,
 * and a listener added after it would miss it. `sockets` collects it for the file's `afterAll` to close.
 *
 * @example const { items } = await openWatching(a.url, alice.token, sockets)
 */
export async function openWatching(url: string, token: string, sockets: ClientSocket[]) {
  const { socket, events, connect } = recordingFromHandshake(url, token, 'connect')
  sockets.push(socket)
  await connect()
  return { socket, items: events as PresenceItem[] }
}

/**
 * `openWatching`, then waits for the socket's `presence:snapshot`: it is in its rooms from then on, so every change
 * told later reaches it. A change told before then is in the snapshot instead, never in `presence:changed`.
 */
export async function openLive(url: string, token: string, sockets: ClientSocket[]) {
  const opened = await openWatching(url, token, sockets)
  await vi.waitFor(() => expect(opened.items.some((item) => item.event === 'presence:snapshot')).toBe(true), {
    timeout: hangBound(),
  })
  return opened
}

/** The last word `items` have about `userId`: from a snapshot or a change, whichever came later. */
export const lastWordAbout = (items: PresenceItem[], userId: string) =>
  items
    .flatMap((item) =>
      item.event === 'presence:snapshot'
        ? (item.payload.users as PresenceItem['payload'][]).filter((user) => user.userId === userId)
        : item.event === 'presence:changed' && item.payload.userId === userId
          ? [item.payload]
          : [],
    )
    .at(-1)
