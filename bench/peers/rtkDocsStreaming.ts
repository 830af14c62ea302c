/**
 * The peer: the pattern the RTK Query documentation teaches for streaming updates ("Streaming Updates", the
 * "Websocket Chat API" example, https://redux-toolkit.js.org/rtk-query/usage/streaming-updates), transcribed for
 * Socket.IO and our contract and otherwise kept as the docs write it:
 *
 * - the socket is opened in `onCacheEntryAdded` when the cache entry is added (one socket per cache entry);
 * - `await cacheDataLoaded`, then a listener that checks the payload (the docs' `isMessage`, here the contract's
 *   message schema) and the channel (here the conversation), and applies it with `updateCachedData(draft => draft.push)`;
 * - the `try/catch` for an entry removed before its data loaded;
 * - `await cacheEntryRemoved`, then the socket is closed.
 *
 * What the docs leave out stays out: no dedupe by id, no ordering by seq, no pending sends, no reconnection handling
 * beyond Socket.IO's own. The docs teach nothing for sending over the socket; the benches send the peer's messages
 * with a bare socket.io-client (the cheapest possible sender, so the comparison favours the peer, not us).
 */
import { configureStore, type Middleware } from '@reduxjs/toolkit'
import { createApi } from '@reduxjs/toolkit/query/react'
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'
import { messageSchema, parse, type Id, type Message } from '../../src/contract'
import { bearerBaseQuery } from '../lib/bearerBaseQuery'

export type CreateSocket = (url: string, options: Partial<ManagerOptions & SocketOptions>) => Socket

/** The docs' `isMessage`: "in real code this would check `message` to ensure it is a `Message`". */
export function isMessage(message: unknown): message is Message {
  return parse(messageSchema, message).ok
}

export function createDocsStreamingPeer(options: {
  apiUrl: string
  token: string
  createSocket?: CreateSocket
  /** The bench's probes (not part of the docs' pattern): put first, so they see the state after every action. */
  probes?: Middleware[]
}) {
  const { apiUrl, token, createSocket = io, probes = [] } = options

  const api = createApi({
    reducerPath: 'api',
    baseQuery: bearerBaseQuery(apiUrl, token),
    endpoints: (build) => ({
      getMessages: build.query<Message[], Id>({
        query: (conversationId) => `conversations/${encodeURIComponent(conversationId)}/messages`,
        async onCacheEntryAdded(arg, { updateCachedData, cacheDataLoaded, cacheEntryRemoved }) {
          // create a socket connection when the cache subscription starts
          const socket = createSocket(apiUrl, { auth: { token } })
          try {
            // wait for the initial query to resolve before proceeding
            await cacheDataLoaded

            // when data is received from the socket connection to the server,
            // if it is a message and for the appropriate conversation,
            // update our query result with the received message
            const listener = (data: unknown) => {
              if (!isMessage(data) || data.conversationId !== arg) return

              updateCachedData((draft) => {
                draft.push(data)
              })
            }

            socket.on('message:new', listener)
          } catch {
            // no-op in case `cacheEntryRemoved` resolves before `cacheDataLoaded`,
            // in which case `cacheDataLoaded` will throw
          }
          // cacheEntryRemoved will resolve when the cache subscription is no longer active
          await cacheEntryRemoved
          // perform cleanup steps once the `cacheEntryRemoved` promise resolves
          socket.close()
        },
      }),
    }),
  })

  const store = configureStore({
    reducer: { [api.reducerPath]: api.reducer },
    // (The cast keeps the thunk dispatch type, which a spread of `Middleware[]` erases; nothing changes at run time.)
    middleware: (getDefaultMiddleware) =>
      getDefaultMiddleware()
        .concat(api.middleware)
        .prepend(...probes) as unknown as ReturnType<typeof getDefaultMiddleware>,
  })

  return { api, store }
}

export type DocsStreamingPeer = ReturnType<typeof createDocsStreamingPeer>
