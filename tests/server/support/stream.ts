import { io } from 'socket.io-client'
import { expect, vi } from 'vitest'
import type { ClientSocket } from './server'
import type { SyncPayload } from './types'

/** One received event: a logged one with its offset, or a sync marker. Every payload the server sends is an object. */
export interface StreamItem {
  event: string
  payload: Readonly<Record<string, unknown>>
  offset?: number
}

/** A `sync:caughtUp` or `sync:gap` marker. */
export type SyncItem = StreamItem & { payload: SyncPayload }

export interface Stream {
  socket: ClientSocket
  items: StreamItem[]
  /** The logged events received, in arrival order. */
  logged(): (StreamItem & { offset: number })[]
  /** Resolves with the first `sync:caughtUp`/`sync:gap` (bounded wait). */
  synced(): Promise<SyncItem>
}

/**
 * A websocket client that resumes from `offset` (and `epoch`), recording every event from the first packet on: its
 * listener is in place before it connects. `url` may be a list: it tries the next one when a connection fails.
 *
 * @example const bob = await openStream(url, token, { offset: 3, epoch }); await bob.synced()
 */
export async function openStream(
  url: string,
  token: string,
  auth: { offset?: number; epoch?: string } = {},
  options: { reconnection?: boolean } = {},
): Promise<Stream> {
  const socket: ClientSocket = io(url, {
    auth: { token, ...auth },
    transports: ['websocket'],
    forceNew: true,
    reconnection: options.reconnection ?? false,
    autoConnect: false,
  })
  const items: StreamItem[] = []
  socket.onAny((event: string, payload: unknown, meta?: { offset?: number }) => {
    // Presence is about the present, not part of the resumed stream (a snapshot follows every connect).
    if (event.startsWith('presence:')) return
    items.push({
      event,
      payload: payload as StreamItem['payload'],
      ...(typeof meta?.offset === 'number' ? { offset: meta.offset } : {}),
    })
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('connect_error', (error) => {
      socket.close()
      reject(error)
    })
    socket.connect()
  })
  return {
    socket,
    items,
    logged: () => items.filter((item): item is StreamItem & { offset: number } => item.offset !== undefined),
    async synced() {
      await vi.waitFor(() => expect(items.some((item) => item.event.startsWith('sync:'))).toBe(true), {
        timeout: 20_000,
        interval: 10,
      })
      return items.find((item): item is SyncItem => item.event.startsWith('sync:'))!
    },
  }
}
