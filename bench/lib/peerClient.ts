import type { Middleware } from '@reduxjs/toolkit'
import { io, type Socket } from 'socket.io-client'
import type { Id } from '../../src/contract'
import { createDocsStreamingPeer, type DocsStreamingPeer } from '../peers/rtkDocsStreaming'
import { onWebsocket } from './clients'
import { waitFor } from './stats'

export interface PeerClient extends DocsStreamingPeer {
  /** The socket the cache entry opened. */
  socket(): Socket
  close(): Promise<void>
}

/** The docs' pattern with one thread subscribed (which opens its socket), connected and upgraded to WebSocket. */
export async function peerClient(options: {
  url: string
  token: string
  conversationId: Id
  probes?: Middleware[]
}): Promise<PeerClient> {
  const sockets: Socket[] = []
  const peer = createDocsStreamingPeer({
    apiUrl: options.url,
    token: options.token,
    probes: options.probes,
    createSocket: (url, socketOptions) => {
      const socket = io(url, socketOptions)
      sockets.push(socket)
      return socket
    },
  })
  const subscription = peer.store.dispatch(peer.api.endpoints.getMessages.initiate(options.conversationId))
  await subscription.unwrap()
  const socket = () => {
    const s = sockets[sockets.length - 1]
    if (!s) throw new Error('the peer has not opened a socket')
    return s
  }
  await waitFor(() => sockets.length > 0 && socket().connected, 'the peer socket to connect', 15_000)
  await onWebsocket(socket())
  // The listener is added after `cacheDataLoaded`, a microtask or two after the data: wait until it is there.
  await waitFor(() => socket().listeners('message:new').length > 0, 'the peer listener', 5_000)
  return {
    ...peer,
    socket,
    async close() {
      subscription.unsubscribe()
      // The docs' cleanup runs when the entry is removed (after keepUnusedDataFor); end it now.
      peer.store.dispatch(peer.api.util.resetApiState())
      await waitFor(() => sockets.every((s) => !s.connected), 'the peer to close its socket', 10_000).catch(() => {
        for (const s of sockets) s.close()
      })
    },
  }
}
