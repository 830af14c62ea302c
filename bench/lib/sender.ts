/**
 * Child process: P1's sender, on an event loop of its own, as the sender's device is in life. Every P1 variant's
 * sender runs here (the floor's and raw's bare client, the layer's store, the peer's bare client), so no variant's
 * receiver in the bench's process shares its event loop with the work its sender does for the same send (its own
 * echo, its ack). P8's layer senders run here too, one process per variant, for the same reason across nodes.
 * Driven over IPC by `./senderProcess.ts`; not run by hand.
 */
import { randomUUID } from 'node:crypto'
import type { Socket } from 'socket.io-client'
import type { Ack, Message } from '../../src/contract'
import { closeSocket, joinConversation, rawSocket } from './clients'
import { layerClient, sendMessage, untilSent, type LayerClient } from './layer'
import type { SenderCommands, SenderReply, SenderRequest, SenderSpec } from './senderProtocol'

const now = (): string => process.hrtime.bigint().toString()

interface Sender {
  /** Starts a send; resolves with its times once the sender has its confirmation. */
  send(tag: string): Promise<{ startedAt: string; emittedAt: string | null }>
  close(): Promise<void>
}

/** The time the socket last emitted `message:send` (instrumented on the instance; the layer's emits go through it). */
function emitClock(socket: Socket): () => string | null {
  let at: string | null = null
  const original = socket.emit
  socket.emit = function (this: Socket, ...args: Parameters<Socket['emit']>) {
    if (args[0] === 'message:send') at = now()
    return original.apply(this, args)
  } as Socket['emit']
  return () => at
}

async function relaySender(url: string): Promise<Sender> {
  const socket = await rawSocket(url, null)
  return {
    async send(tag) {
      const startedAt = now()
      socket.emit('relay', { content: tag })
      return { startedAt, emittedAt: null }
    },
    close: () => closeSocket(socket),
  }
}

async function bareSender(url: string, token: string, conversationId: string, join: boolean): Promise<Sender> {
  const socket = await rawSocket(url, token)
  if (join) await joinConversation(socket, conversationId)
  return {
    async send(tag) {
      const startedAt = now()
      const ack = await new Promise<Ack<Message>>((resolve) => {
        socket.emit('message:send', { conversationId, content: tag, clientId: randomUUID() }, resolve)
      })
      if (!ack.ok) throw new Error(`bare send refused: ${ack.error.code}`)
      return { startedAt, emittedAt: null }
    },
    close: () => closeSocket(socket),
  }
}

async function layerSender(spec: Extract<SenderSpec, { kind: 'layer' }>): Promise<Sender> {
  const client: LayerClient = await layerClient({ url: spec.url, session: spec.session })
  await client.subscribeThread(spec.conversationId)
  const emittedAt = emitClock(client.socket())
  return {
    async send(tag) {
      const startedAt = now()
      client.store.dispatch(sendMessage({ conversationId: spec.conversationId, content: tag }))
      // The sender's copy confirmed before the next send, as a bare sender waits for its ack.
      await untilSent(client.store, spec.conversationId, tag, 5_000)
      return { startedAt, emittedAt: emittedAt() }
    },
    close: () => client.close(),
  }
}

let sender: Sender | null = null
let last: Promise<{ startedAt: string; emittedAt: string | null }> | null = null

const commands: SenderCommands = {
  async open(spec) {
    await sender?.close()
    sender = null
    if (spec.kind === 'relay') sender = await relaySender(spec.url)
    else if (spec.kind === 'bare')
      sender = await bareSender(spec.url, spec.token, spec.conversationId, spec.join ?? false)
    else sender = await layerSender(spec)
    return null
  },
  async send({ tag }) {
    if (!sender) throw new Error('P1 sender: send before open')
    last = sender.send(tag)
    // Reported by `result`, not here: an unhandled rejection would end the process before it is asked for.
    last.catch(() => undefined)
    return null
  },
  async result() {
    if (!last) throw new Error('P1 sender: result before send')
    return last
  },
  async close() {
    await sender?.close()
    sender = null
    return null
  },
}

process.on('message', (raw) => {
  const request = raw as SenderRequest
  const command = commands[request.cmd] as (args: unknown) => Promise<unknown>
  const replied = command(request.args)
  // A one-way request (`send`) is not answered: nothing comes back to the bench's process while it times.
  if (request.oneWay) return void replied.catch((error: unknown) => console.error('P1 sender:', error))
  replied.then(
    (result) => process.send?.({ id: request.id, ok: true, result } satisfies SenderReply),
    (error: unknown) => process.send?.({ id: request.id, ok: false, error: String(error) } satisfies SenderReply),
  )
})
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies SenderReply)

// The bench process going away takes the sender with it.
process.on('disconnect', () => process.exit(0))
