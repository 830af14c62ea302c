import type { Id, User } from '../../src/contract'

/** What P1's sender process sends with: a bare client on the floor relay, a bare client or a layer store on the server. */
export type SenderSpec =
  | { kind: 'relay'; url: string }
  | {
      kind: 'bare'
      url: string
      token: string
      conversationId: Id
      /** Open the thread first (`conversation:join`), as a client showing it does: the layer's stores do. */
      join?: boolean
    }
  | { kind: 'layer'; url: string; session: { token: string; user: User }; conversationId: Id }

/** Commands P1's sender process answers over IPC; times are `process.hrtime.bigint()` as strings (one clock per machine). */
export interface SenderCommands {
  /** Connects the sender (closing the previous one), on WebSocket, its thread subscribed for a layer store. */
  open(args: SenderSpec): Promise<null>
  /**
   * Starts one send; sent one way (never answered), so nothing comes back to the bench's process while it waits for
   * the receiver. `result` reads its times.
   */
  send(args: { tag: string }): Promise<null>
  /**
   * The last send's times, once the sender has its confirmation (ack; a layer store's copy `sent`; the relay has no
   * ack, so at once): asked for after the receiver has the message, so no reply reaches the bench's process while
   * it is being timed.
   */
  result(args?: undefined): Promise<{ startedAt: string; emittedAt: string | null }>
  close(args?: undefined): Promise<null>
}

export type SenderCommandName = keyof SenderCommands

export interface SenderRequest {
  id: number
  cmd: SenderCommandName
  args: unknown
  /** Not answered (`send`). */
  oneWay?: boolean
}

export type SenderReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }
