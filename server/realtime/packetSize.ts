/** The Engine.IO connection, as far as the bound below needs it. */
export interface FramedConnection {
  prependListener(event: 'data', listener: (data: string | Uint8Array) => void): unknown
  close(discard?: boolean): unknown
}

/**
 * Closes the connection when one Socket.IO packet grows past `maxBytes`. Engine.IO's `maxHttpBufferSize` bounds each
 * frame, but a packet with binary attachments is several frames (its header, then up to ten attachments), which the
 * decoder keeps until the last one has come: 600 KB in one packet passed, on a connection with no socket yet as well.
 * Counted ahead of the decoder, and closed at once (its buffered writes discarded), so the decoder is gone before it
 * reads the frame past the bound and no part of that packet reaches a handler.
 *
 * @example io.engine.on('connection', (conn) => limitPacketSize(conn, MAX_PACKET_BYTES))
 */
export function limitPacketSize(conn: FramedConnection, maxBytes: number): void {
  let bytes = 0
  conn.prependListener('data', (data) => {
    // A text frame starts a packet (a binary one's header, or a whole packet, which Engine.IO has bounded already).
    // Counted in bytes, as the bound is: `length` counts UTF-16 units, a third of a header of 3-byte characters.
    if (typeof data === 'string') {
      bytes = Buffer.byteLength(data)
      return
    }
    bytes += data.byteLength
    if (bytes > maxBytes) conn.close(true)
  })
}

/** The Engine.IO connection, as far as `limitUnsentBacklog` needs it (its public events). */
export interface BufferedConnection {
  on(event: 'packetCreate' | 'flush', listener: () => void): unknown
  close(discard?: boolean): unknown
}

/**
 * Closes the connection once more than `maxUnsent` packets wait for its client unsent: a client that reads nothing would
 * otherwise make the server keep a pile growing with every answer and every event for its user, for as long as it
 * stays connected (its own events keep Engine.IO's heartbeat from timing out, and so does a pong sent blindly, with no
 * event at all). Packets wait here only while the transport cannot take them (the client has not read what it was
 * given, or has not polled); a client that reads never has more waiting than the largest burst the server sends at
 * once, a handshake's replay. Closed at once, the pile discarded (it would never drain): the client reconnects and
 * resumes from its offset.
 *
 * @example io.engine.on('connection', (conn) => limitUnsentBacklog(conn, maxReplay + UNSENT_MARGIN))
 */
export function limitUnsentBacklog(conn: BufferedConnection, maxUnsent: number): void {
  let unsent = 0
  let closing = false
  // Each packet goes into the connection's buffer as it is made, and the whole buffer to the transport at a flush.
  conn.on('packetCreate', () => {
    if (++unsent <= maxUnsent || closing) return
    closing = true
    // Not inside the emit that made the packet: its 'disconnect' would run in the middle of a delivery loop.
    queueMicrotask(() => conn.close(true))
  })
  conn.on('flush', () => {
    unsent = 0
  })
}
