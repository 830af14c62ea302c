import type { Stalls } from './stalls'
import type { Id } from '../../src/contract'

export interface HostOptions {
  dataDir: string
  jwtSecret: string
  /** P7: how many extra user pairs (each with a conversation) to create before the server starts. */
  seedPairs?: number
}

export interface SeededPair {
  conversationId: Id
  a: { id: Id; token: string }
  b: { id: Id; token: string }
}

/** Commands the host answers over IPC; times are `process.hrtime.bigint()` as strings (one monotonic clock per machine). */
export interface HostCommands {
  info(args?: undefined): Promise<{ url: string; relayUrl: string; pid: number; seeded: SeededPair[] }>
  requests(args: { key: string }): Promise<number>
  socketsOf(args: { userId: Id }): Promise<number>
  /**
   * Resolves once `userId` holds `count` sockets at the server, checked now and on every connection and disconnect
   * (no polling); rejects with the count it stands at if that has not happened within `timeoutMs`.
   */
  untilSocketsOf(args: { userId: Id; count: number; timeoutMs: number }): Promise<null>
  burst(args: {
    userId: Id
    conversationId: Id
    senderId: Id
    firstSeq: number
    /** The first event's `{ offset }`, as the server's notifier sends every logged event (the next is one more). */
    firstOffset: number
    count: number
    idPrefix: string
  }): Promise<{ startedAt: string; emittedAt: string }>
  lessonStorm(args: {
    studentId: Id
    tutorId: Id
    /** The first event's `{ offset }` in the student's log, as the server's notifier sends it (the next is one more). */
    firstOffset: number
    count: number
    durationMs: number
    idPrefix: string
  }): Promise<{ startedAt: string; endedAt: string; sent: number }>
  /** Socket.IO connections accepted for `userId` since the host started (every handshake that passed auth). */
  handshakesOf(args: { userId: Id }): Promise<number>
  /**
   * Closes the reference server (every socket drops, as in a deploy) and starts it again on the same port and data
   * folder, with the same secret: sessions and tokens stay valid. Resolves once it listens again.
   */
  restart(args?: undefined): Promise<{ downMs: number }>
  /** The server process's CPU time so far (user + system, µs) and its clock, for a CPU share over a span. */
  cpu(args?: undefined): Promise<{ cpuMicros: number; at: string }>
  /** Starts watching the server process's event loop and garbage collector (`bench/lib/stalls.ts`). */
  watchStalls(args?: undefined): Promise<null>
  /** What the server process's loop and collector did since `watchStalls`. */
  stalls(args?: undefined): Promise<Stalls>
  close(args?: undefined): Promise<null>
}

export type HostCommandName = keyof HostCommands

export interface HostRequest {
  id: number
  cmd: HostCommandName
  args: unknown
}

export type HostReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }
