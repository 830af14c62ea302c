import { ServerResponse, type Server as HttpServer, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Server } from 'socket.io'
import {
  conversationIdSchema,
  handshakeResumeSchema,
  parseRequest,
  sessionRenewSchema,
  typingSchema,
} from '../../src/contract/requests'
import {
  MAX_PACKET_BYTES,
  SOCKET_PING_INTERVAL_MS,
  SOCKET_PING_TIMEOUT_MS,
  type Ack,
  type ApiError,
  type ClientEventAckData,
  type ClientEventName,
  type ErrorCode,
  type Id,
} from '../../src/contract'
import { AppError, invalid, isRedisFailure, toApiError, unauthorized } from '../errors'
import { lacksHost } from '../http'
import {
  errorAnswer,
  rawErrorResponse,
  registerSocketEndpointHeaders,
  registerSocketUpgradeRefusals,
  type Refusal,
} from '../http/securityHeaders'
import type { Logger } from '../logger'
import type { OriginPolicy } from '../origins'
import { loadBudget, RateLimiter, UNKNOWN_EVENT_RATE_LIMIT, type Limiter, type RateLimitOptions } from '../rateLimit'
import type { Services } from '../services'
import type { SessionStore } from '../sessions'
import { DEFAULT_MAX_REPLAY, type EventLog, type ResumeResult } from '../services/eventLog'
import { within } from '../within'
import type { LiveDelivery } from './delivery'
import { conversationIdOfRoom, conversationRoom, sessionRoom, userRoom } from './rooms'
import type { Notices } from './notices'
import type { PresenceTracker } from './presence'
import { limitPacketSize, limitUnsentBacklog, type BufferedConnection, type FramedConnection } from './packetSize'
import { SocketSlots } from './socketSlots'
import { UNAUTHENTICATED_REFUSAL, UNAUTHENTICATED_RETRY_AFTER_MS, UnauthenticatedSessions } from './unauthenticated'
import type { TalemyServer, TalemySocket } from './types'

export { createNotifier, createPresence } from './notifier'
export { LiveDelivery } from './delivery'
export { Notices } from './notices'
export { DEFAULT_PRESENCE_GRACE_SECONDS, MemoryPresenceStore, PresenceTracker } from './presence'
export { DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS } from './unauthenticated'
export type { TalemyServer, TalemySocket } from './types'

/** Socket.IO's path as Engine.IO matches it: a prefix of the raw URL. */
const SOCKET_IO_PATH = '/socket.io/'

/**
 * Packets that may wait unsent for a client beyond a handshake's replay (its marker, the presence snapshot, events and
 * answers meanwhile) before its client is taken for one that reads nothing.
 */
export const UNSENT_MARGIN = 10_000

/** How many sockets one user may hold at once (tabs, devices); more is a runaway client or an attack. */
export const DEFAULT_MAX_SOCKETS_PER_USER = 20

/**
 * The Socket.IO server on the HTTP server. Origins are checked in `allowRequest`, which also runs for a direct
 * WebSocket upgrade (CORS headers alone would not stop one). Handlers are attached later by `attachHandlers`,
 * once the services (which need this server to notify) exist. Connection-state recovery is off: a recovery id (pid and
 * offset) is no credential, and a reconnect is a new handshake with a live token (the browser catches up by refetching).
 */
export function createSocketServer(
  httpServer: HttpServer,
  origins: OriginPolicy,
  unauthenticated: {
    /** The client address of a request, as HTTP reads it (`trustProxy`), by its key (`addressKey`). */
    addressOf: (req: IncomingMessage) => string
    /** Engine.IO sessions one address may hold before a socket authenticates on them. */
    maxPerAddress: number
  },
  /** The most events a handshake replays at once (`maxReplay`): packets waiting past it and a margin are a client not reading. */
  maxReplay = DEFAULT_MAX_REPLAY,
  /** Engine.IO's heartbeat, in ms (tests shorten it). Default `SOCKET_PING_INTERVAL_MS`, `SOCKET_PING_TIMEOUT_MS`. */
  heartbeat: { pingIntervalMs?: number; pingTimeoutMs?: number } = {},
): TalemyServer {
  const pending = new UnauthenticatedSessions(unauthenticated.maxPerAddress)
  /**
   * Why a request to Socket.IO's path is refused, in the contract's terms (as /api says it): a foreign Origin on any
   * request (`sid`: a session's polls, sends and upgrade; allowRequest sees the handshake only), JSONP, an address at its cap
   * of unauthenticated sessions on a handshake. Engine.IO would say either as a 403 `{ code: 4 }` when polling, a 400
   * "Bad request" for a middleware's reason, and a 400 for any refused upgrade.
   */
  /**
   * A handshake's slot, taken when Engine.IO's middlewares pass it, until its session opens (which takes it over) or its
   * request ends without one. Counted only once a session opened, the cap let through every handshake read before
   * the first (Engine.IO names a session asynchronously): handshakes pipelined on one connection all found room.
   */
  const reserved = new Map<IncomingMessage, () => void>()
  const refusalOf = (req: IncomingMessage): Refusal | undefined => {
    if (lacksHost(req)) return { status: 400, code: 'INVALID', message: 'Host: required in an HTTP/1.1 request' }
    if (!origins.isAllowed(req.headers.origin)) return { status: 403, code: 'FORBIDDEN', message: 'origin not allowed' }
    const params = paramsOf(req)
    // JSONP polling (`j`), which Engine.IO 4 still serves and no socket.io-client 4 asks for: a cross-site <script>
    // sends no Origin, and the answer is script.
    if (params.has('j')) return { status: 400, code: 'INVALID', message: 'JSONP polling is not served' }
    if (isHandshake(params) && !reserved.has(req) && !pending.hasRoom(unauthenticated.addressOf(req)))
      return {
        status: 429,
        code: 'RATE_LIMITED',
        message: UNAUTHENTICATED_REFUSAL,
        retryAfterMs: UNAUTHENTICATED_RETRY_AFTER_MS,
      }
    return undefined
  }
  /** The refusal each refused request was given, for its upgrade's answer (Engine.IO writes that one itself). */
  const refused = new WeakMap<IncomingMessage, Refusal>()
  const io: TalemyServer = new Server(httpServer, {
    serveClient: false,
    // Upgrades to other paths are answered below.
    destroyUpgrade: false,
    maxHttpBufferSize: MAX_PACKET_BYTES,
    // A reader whose connection died silently counts as looking at what he joined until the heartbeat finds it out.
    pingInterval: heartbeat.pingIntervalMs ?? SOCKET_PING_INTERVAL_MS,
    pingTimeout: heartbeat.pingTimeoutMs ?? SOCKET_PING_TIMEOUT_MS,
    cors: { origin: (origin, callback) => callback(null, origins.isAllowed(origin)) },
    // The middleware below refuses these first, in the contract's shape; kept here as Socket.IO's own gate.
    allowRequest: (req, callback) => {
      const refusal = refusalOf(req)
      callback(refusal ? refusal.message : null, !refusal)
    },
  })
  // Counted from the handshake's reservation (`reserve`) through the session's opening to its first authenticated
  // socket (every middleware passed) or its close. A session opening without a reservation (its request ended while
  // Engine.IO named it) is counted here; one past the cap is closed as it opens, told why as the allowRequest refusal
  // says it: closed unexplained, socket.io-client took it for a dropped transport and reconnected at once, again and
  // again.
  const releases = new WeakMap<object, () => void>()
  io.engine.on(
    'connection',
    (
      conn: FramedConnection &
        BufferedConnection & {
          request: IncomingMessage
          write(data: string): unknown
          once(e: 'close', l: () => void): void
          on(e: 'packetCreate', l: (packet: { type: string; data?: unknown }) => void): unknown
        },
    ) => {
      limitPacketSize(conn, MAX_PACKET_BYTES)
      limitUnsentBacklog(conn, maxReplay + UNSENT_MARGIN)
      refuseOtherNamespaces(conn)
      refuseAcks(conn)
      const release = reserved.get(conn.request) ?? pending.add(unauthenticated.addressOf(conn.request))
      reserved.delete(conn.request)
      if (!release) {
        // Socket.IO's CONNECT_ERROR for the main namespace, as a middleware's refusal is sent (protocol 5: type 4, the
        // namespace `/` left out), written before the client's CONNECT can arrive; the session closes once it is out.
        const { message, data } = handshakeError(
          'RATE_LIMITED',
          UNAUTHENTICATED_REFUSAL,
          UNAUTHENTICATED_RETRY_AFTER_MS,
        )
        conn.write(`4${JSON.stringify({ message, data })}`)
        return conn.close()
      }
      releases.set(conn, release)
      conn.once('close', release)
      // A refused CONNECT (its CONNECT_ERROR for the main namespace going out) closes its connection once that is sent:
      // left open, one connection looped bad-token handshakes until connectTimeout, thousands a second.
      // socket.io-client closes its own at a connect_error anyway and opens another at `connect()`. After this tick:
      // the packet is not in the write buffer yet, and a close with an empty buffer would drop it.
      conn.on('packetCreate', (packet) => {
        if (packet.type === 'message' && typeof packet.data === 'string' && /^4(?!\/)/.test(packet.data))
          process.nextTick(() => conn.close())
      })
    },
  )
  /**
   * Connections with a CONNECT for the main namespace being handshaken, or accepted. Socket.IO handshakes every CONNECT
   * for a namespace not joined yet: CONNECTs pipelined on one connection were all checked at once (tokens, budgets,
   * slots) and each made a socket, the last the only one its client could still talk to; 20,000 with a bad token, on
   * one connection and without an account, held the event loop up to 1.5 s and 125 MB of heap. One at a time: another
   * meanwhile closes the connection, as Socket.IO itself does for a CONNECT on a namespace already joined.
   */
  const handshaking = new WeakSet<object>()
  // First of the middlewares, before any check costs anything.
  io.use((socket, next) => {
    const { conn } = socket
    if (conn.readyState === 'open' && !handshaking.has(conn)) {
      handshaking.add(conn)
      return next()
    }
    // Told why, as any refused handshake; written here, as the connection is closing when Socket.IO would write it.
    if (conn.readyState === 'open') {
      const { message, data } = handshakeError('INVALID', ONE_HANDSHAKE_AT_A_TIME)
      conn.write(`4${JSON.stringify({ message, data })}`)
      conn.close()
    }
    // Dropped by Socket.IO, its connection no longer open (a handshake under way there ends so too).
    next(new Error(ONE_HANDSHAKE_AT_A_TIME))
  })
  io.on('connection', (socket) => releases.get(socket.conn)?.())
  const reserve = (req: IncomingMessage, res: unknown) => {
    const release = pending.add(unauthenticated.addressOf(req))
    if (!release) return
    reserved.set(req, release)
    // A handshake refused after this (Engine.IO's own checks, an upgrade `ws` aborts) or given up opens no session:
    // its answer ends (polling), or its connection closes (an upgrade, whose `res` is Engine.IO's stand-in).
    const ended = () => {
      if (reserved.get(req) !== release) return
      reserved.delete(req)
      release()
    }
    if (res instanceof ServerResponse) res.once('close', ended)
    else req.socket.once('close', ended)
  }
  // allowRequest runs at the handshake only: a request naming an existing session (`sid`: its polls, its sends, its
  // upgrade to a WebSocket) would pass from any Origin. Engine.IO's middlewares run for every request and upgrade
  // (after its CORS one, whose headers a refusal keeps), before allowRequest. A refused request is answered here; a
  // refused upgrade by Engine.IO, whose answer `registerSocketUpgradeRefusals` rewrites with the refusal noted here.
  // (Node's Host check is off for Fastify's sake, see `createHttpApp`: Socket.IO's path refuses it here.)
  io.engine.use((req: IncomingMessage, res: unknown, next: (error?: Error) => void) => {
    const refusal = refusalOf(req)
    if (!refusal) {
      if (isHandshake(paramsOf(req))) reserve(req, res)
      return next()
    }
    refused.set(req, refusal)
    if (res instanceof ServerResponse && !res.headersSent) {
      const { headers, body } = errorAnswer(refusal.message, refusal.code, refusal.retryAfterMs)
      res.writeHead(refusal.status, headers).end(body)
    }
    next(new Error(refusal.message))
  })
  // Engine.IO answers its path ahead of Fastify's helmet: its answers get the security headers here. After `new
  // Server`, which takes the request listeners there are and calls them only for other paths.
  registerSocketEndpointHeaders(httpServer)
  registerSocketUpgradeRefusals(httpServer, SOCKET_IO_PATH, (req) => refused.get(req))
  // Node hands every upgrade to Socket.IO, listening for its own: one to another path (an h2c `curl --http2`, a
  // WebSocket pointed at /api) would be closed unanswered after `destroyUpgradeTimeout`. Told at once instead.
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if ((req.url ?? '').startsWith(SOCKET_IO_PATH)) return
    // A client gone meanwhile must not raise an unhandled 'error'.
    socket.on('error', () => undefined)
    if (socket.writable)
      socket.end(rawErrorResponse(400, `Upgrade: only ${SOCKET_IO_PATH} can be upgraded; send this request without it`))
    else socket.destroy()
  })
  return io
}

/**
 * A check after authentication, before the socket takes a slot: an `Error` refuses the handshake (its message is the
 * client's `connect_error`). Tests inject one to make the server unreachable for a user; production has none.
 */
export type HandshakeGuard = (userId: Id) => Error | null

/** The per-user socket cap: this process's (`SocketSlots`) or the nodes' shared one (`SharedSocketSlots`). */
export interface SocketCap {
  tryAcquire(userId: Id, socketId: string): (() => void) | undefined | Promise<(() => void) | undefined>
  /** The user's live sockets (presence asks when one closes). */
  count(userId: Id): number | Promise<number>
}

/** Told of every conversation a socket joins or leaves, when viewers are shared between nodes. */
export interface ViewerRegistry {
  /** `expiresAt`: the socket's token's end (ms), after which a send on any node no longer counts this viewer. */
  joined(conversationId: Id, userId: Id, socketId: string, expiresAt: number): Promise<unknown>
  left(conversationId: Id, userId: Id, socketId: string): Promise<unknown>
  /** The socket's token was renewed: its viewers count until the new one's end. */
  renewed(userId: Id, socketId: string, expiresAt: number): Promise<unknown>
  /** `listener` hears of a viewer that had stopped counting for the other nodes, and counts again. */
  onBack?(listener: (conversationId: Id, userId: Id, socketId: string) => void): void
}

export interface HandlerDeps {
  services: Services
  sessions: SessionStore
  handshakeGuard?: HandshakeGuard
  logger: Logger
  /** The clock tokens are checked against, in ms. */
  now: () => number
  /** The per-user budget of `conversation:join`. */
  joinLimiter: Limiter
  /** The per-user budget of `typing` notices (2 a second). */
  typingLimiter: Limiter
  /** The per-user budget of `session:renew` (each checks a token's signature twice); none: unbudgeted. */
  renewLimiter?: Limiter
  /** The per-user budget of handshakes (each reads the user's log); none: unbudgeted. */
  handshakeLimiter?: Limiter
  /** Each socket's budget for every event it sends, known or not: past it the socket is disconnected. */
  socketEventRateLimit: RateLimitOptions
  maxSocketsPerUser: number
  eventLog: EventLog
  delivery: LiveDelivery
  /** Typing and presence: gated here as `delivery` is. */
  notices: Notices
  /** Default: this process's own count. */
  slots?: SocketCap
  viewerRegistry?: ViewerRegistry
  /** Online/offline and the snapshot after each connect; none in tests of other things. */
  presence?: Pick<PresenceTracker, 'connected' | 'disconnected' | 'resendSnapshots'>
  /** With several nodes: calls `resync` whenever notifications from the other nodes may have been lost. */
  onNotificationsLost?: (resync: () => void) => void
}

/** setTimeout's longest delay; a later expiry is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

type AckFn = (response: Ack<unknown>) => void
/** A client event's handler: the payload is untrusted (`unknown`, validated inside), the result is its ack's data. */
export type ClientEventHandler<E extends ClientEventName> = (
  socket: TalemySocket,
  payload: unknown,
) => Promise<ClientEventAckData<E>>

/** One handler per client event, keyed by the contract's map: a missing one is a type error. */
export type ClientEventHandlers = { [E in ClientEventName]: ClientEventHandler<E> }

/** An Engine.IO request's query. */
const paramsOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://socket.invalid').searchParams

/** A CONNECT for the main namespace while one is being handshaken on the same connection (`handshaking`). */
const ONE_HANDSHAKE_AT_A_TIME = 'one handshake at a time on a connection'

/** As Engine.IO tells one (`if (sid)`): a request naming no session, an empty `sid` too, is a handshake. */
const isHandshake = (params: URLSearchParams) => !params.get('sid')

/** The `Error` whose message a client sees in `connect_error`. */
function handshakeError(
  code: Extract<ErrorCode, 'UNAUTHORIZED' | 'RATE_LIMITED' | 'INTERNAL' | 'INVALID'>,
  message: string,
  retryAfterMs?: number,
): Error & { data: ApiError } {
  return Object.assign(new Error(code), {
    data: retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs },
  })
}

/** A CONNECT for a namespace other than the main one, as socket.io-parser reads it (type 0, then `/name` up to `,`). */
const OTHER_NAMESPACE_CONNECT = /^0(\/[^,]+)/

/**
 * Closes the connection at its first CONNECT for a namespace this server does not have (it has only `/`), told why as
 * Socket.IO would tell it. Socket.IO answers each such CONNECT and keeps the connection: no socket, so no event budget,
 * no token and no one-handshake rule; 100,000 from each of 10 connections held the event loop 4.8 s. Checked ahead of
 * Socket.IO's decoder: the connection is closing when that reads the frame, and nothing it writes goes out.
 */
function refuseOtherNamespaces(conn: {
  prependListener(event: 'data', listener: (data: string | Uint8Array) => void): unknown
  write(data: string): unknown
  close(): unknown
}): void {
  conn.prependListener('data', (data) => {
    const nsp = typeof data === 'string' ? OTHER_NAMESPACE_CONNECT.exec(data)?.[1] : undefined
    if (!nsp) return
    conn.write(`4${nsp},${JSON.stringify({ message: 'Invalid namespace' })}`)
    conn.close()
  })
}

/**
 * Closes the connection at its first ACK packet (type 3, or 6 with attachments): the server asks a client for none. No
 * event, it passed the per-socket budget, and Socket.IO drops one it did not ask for a tick later: 100,000 from each of
 * 10 sockets of one user held the event loop 456 ms. Checked ahead of Socket.IO's decoder, as `limitPacketSize` is.
 */
function refuseAcks(conn: FramedConnection): void {
  conn.prependListener('data', (data) => {
    if (typeof data === 'string' && (data[0] === '3' || data[0] === '6')) conn.close(true)
  })
}

/** A budget that never refuses. */
const UNBUDGETED: Limiter = {
  tryTake: () => ({ ok: true }),
  take: () => undefined,
  refund: () => undefined,
  sweep() {},
}

/** How long a handshake waits for its budget's answer (Redis's, with several nodes) before going on unbudgeted. */
const HANDSHAKE_BUDGET_WAIT_MS = 500

export function attachHandlers(
  io: TalemyServer,
  {
    services,
    sessions,
    handshakeGuard,
    logger,
    now,
    joinLimiter,
    typingLimiter,
    renewLimiter,
    handshakeLimiter,
    socketEventRateLimit,
    maxSocketsPerUser,
    eventLog,
    delivery,
    notices,
    slots,
    viewerRegistry,
    presence,
    onNotificationsLost,
  }: HandlerDeps,
): { resync(socket: TalemySocket): void; settled(): Promise<void> } {
  // Redis's failures are said once per outage (`watchCommands`), not once per event that met one.
  const warn = (what: string) => (error: unknown) => {
    if (!isRedisFailure(error)) logger.warn({ err: error }, what)
  }
  /** The client events being handled now, until answered: a close lets them finish before the database goes. */
  const inFlight = new Set<Promise<void>>()
  const { messaging } = services
  /** Per socket: the timer that disconnects it when its token expires unrenewed. */
  const expiryTimers = new WeakMap<TalemySocket, ReturnType<typeof setTimeout>>()

  function armExpiry(socket: TalemySocket) {
    clearTimeout(expiryTimers.get(socket))
    // Closed while a renewal was being checked: its 'disconnect' has cleared the timer, and a new one would hold the
    // closed socket until the renewed token's end.
    if (!socket.connected) return
    const delay = socket.data.expiresAt - now()
    if (delay <= 0) {
      expire(socket)
      return
    }
    const timer = setTimeout(
      () => (now() >= socket.data.expiresAt ? expire(socket) : armExpiry(socket)),
      Math.min(delay, MAX_TIMER_MS),
    )
    timer.unref()
    expiryTimers.set(socket, timer)
  }

  function expire(socket: TalemySocket) {
    logger.debug({ socketId: socket.id, userId: socket.data.userId }, 'socket token expired')
    // A server-side disconnect: the browser layer refreshes its token and reconnects.
    socket.disconnect(true)
  }

  /** False (and the socket ended) once its token has expired: the timer may lag, as for the events it sends. */
  function stillValid(socket: TalemySocket): boolean {
    if (now() < socket.data.expiresAt) return true
    if (socket.connected) expire(socket)
    return false
  }
  delivery.gate(stillValid)
  // Notices (typing, presence) go only to sockets past their handshake's replay: the contract's "only then live
  // events" holds for them too. A typing notice ahead of the older messages replayed would be ended by them; a
  // presence change meanwhile is in the snapshot read after the replay. Nor to a socket whose session the check after
  // its connection has not found live yet: it is in no replay until then. A live socket's resync (notifications lost)
  // gets presence at once (the snapshot sent again with it may be read before a change) and typing after its replay
  // (the messages it replays would end it), ahead of the events heard after it: not dropped, as every socket of the
  // node resyncs at once.
  notices.gate(
    (socket, event, later) =>
      delivery.hasGoneLive(socket) &&
      stillValid(socket) &&
      !(event === 'typing' && delivery.deferToResyncEnd(socket, later)),
  )

  /**
   * A newer token of the socket's own session: it lives on until that one expires. Another session's or user's: refused
   * and disconnected, whether or not that token is still valid (whose it is comes from its signature alone, before
   * anything else can refuse it). An old or bad token of its own session is only refused: the socket keeps its token.
   */
  async function renew(socket: TalemySocket, payload: unknown): Promise<null> {
    const input = parseRequest(sessionRenewSchema, payload)
    if (!input.ok) throw invalid(input.issues, 'payload')
    // Before any signature is checked: past it, a renewal costs no more than an unknown event.
    await renewLimiter?.take(socket.data.userId)
    const owner = await sessions.ownerOf(input.value.token)
    if (owner && (owner.userId !== socket.data.userId || owner.sessionId !== socket.data.sessionId)) {
      // After the ack has gone out (same transport, in order).
      setImmediate(() => socket.disconnect(true))
      throw unauthorized("not this socket's session")
    }
    // Signed, so the same claims as the owner's: this socket's session.
    const claims = await sessions.authenticate(input.value.token)
    if (claims.expiresAt > socket.data.expiresAt) {
      socket.data.expiresAt = claims.expiresAt
      armExpiry(socket)
      // The other nodes' sends check a shared viewer's expiry: unrenewed there, this socket would stop counting as
      // looking at its threads at the old token's end. The renewal itself holds: a failure here costs only that.
      // Waited for at most 2 s: a Redis that slow must not make the renewal look failed to the client (its ack times
      // out at 5 s); it goes on in the background.
      const renewal = viewerRegistry?.renewed(socket.data.userId, socket.id, claims.expiresAt)
      if (renewal) await within(renewal.catch(warn('sharing a renewed viewer failed')), 2_000, undefined)
    }
    return null
  }

  // A session ended here (logout, a replayed refresh token): its sockets go at once. Through the session's room, so
  // an adapter spanning nodes carries it.
  sessions.onRevoked((sessionId) => io.in(sessionRoom(sessionId)).disconnectSockets(true))

  /**
   * Per socket, the last of `conversation:join` / `conversation:leave` it sent for each conversation, noted as the
   * packet arrives: a join waits (its budget, the conversation's queue) where a leave does not, so a leave sent right
   * after a join would otherwise find nothing to leave, and the join would then look at the thread for good. Kept only
   * while one of them is under way (a valid id each): what a socket sends cannot pile up here.
   */
  const lastWord = new WeakMap<TalemySocket, Map<Id, { word: 'join' | 'leave'; underWay: number }>>()
  /** Notes `word` as the socket's last for the conversation; call the answer when its handling has ended. */
  const say = (socket: TalemySocket, conversationId: Id, word: 'join' | 'leave'): (() => void) => {
    let words = lastWord.get(socket)
    if (!words) lastWord.set(socket, (words = new Map()))
    const said = words.get(conversationId) ?? { word, underWay: 0 }
    said.word = word
    said.underWay++
    words.set(conversationId, said)
    return () => {
      if (--said.underWay === 0) words.delete(conversationId)
    }
  }

  /**
   * Per socket and conversation, the `typing` notices under way (their budget and participants are being read): a
   * `message:send` there from the same socket marks them overtaken. The notice would reach the other participants
   * after the message it came before (its reads outlasting the whole send), and "… is typing" would stand under the
   * delivered message until it expired; the message ends it anyway. Kept only while a notice is under way.
   */
  const typingUnderWay = new WeakMap<TalemySocket, Map<Id, Set<{ overtaken: boolean }>>>()
  /** Notes a typing notice under way; `overtaken()` tells whether a send has started there since, `ended()` forgets it. */
  const typingStarted = (socket: TalemySocket, conversationId: Id) => {
    let conversations = typingUnderWay.get(socket)
    if (!conversations) typingUnderWay.set(socket, (conversations = new Map()))
    let notices = conversations.get(conversationId)
    if (!notices) conversations.set(conversationId, (notices = new Set()))
    const notice = { overtaken: false }
    notices.add(notice)
    return {
      overtaken: () => notice.overtaken,
      ended: () => {
        notices.delete(notice)
        if (notices.size === 0) conversations.delete(conversationId)
      },
    }
  }
  /** A send has come from the socket (as its packet arrives): the typing notices under way in its conversation are overtaken. */
  const sendStarted = (socket: TalemySocket, payload: unknown) => {
    const conversationId = (payload as { conversationId?: unknown } | null | undefined)?.conversationId
    if (typeof conversationId !== 'string') return
    for (const notice of typingUnderWay.get(socket)?.get(conversationId) ?? []) notice.overtaken = true
  }

  // A viewer Redis had stopped counting (it lost its data, or this node could not renew the entry in time), put back by
  // this node: the other nodes' sends meanwhile did not see it, and left unread what the user was looking at. Read
  // again as the join did, unbudgeted (nothing the user asked for); nothing new there writes nothing and tells no one.
  viewerRegistry?.onBack?.((conversationId, userId, socketId) => {
    const socket = io.of('/').sockets.get(socketId)
    if (!socket) return
    const looking = (id: Id) =>
      socket.connected && socket.rooms.has(conversationRoom(id)) && now() < socket.data.expiresAt ? 'present' : 'gone'
    messaging.markRead(userId, conversationId, UNBUDGETED, looking).catch(warn('reading a viewer put back failed'))
  })

  const handlers: ClientEventHandlers = {
    'conversation:join': async (socket, conversationId) => {
      const input = parseRequest(conversationIdSchema, conversationId)
      if (!input.ok) throw invalid(input.issues, 'conversationId')
      const ended = say(socket, input.value, 'join')
      try {
        // The join budget is spent there, after an outsider is refused for free where the members are known.
        await messaging.markRead(socket.data.userId, input.value, joinLimiter, async (id) => {
          const room = conversationRoom(id)
          // Superseded while it waited (the socket closed, or left the conversation since): not looking at it.
          if (!socket.connected || lastWord.get(socket)?.get(id)?.word !== 'join') return 'gone'
          if (socket.rooms.has(room)) return 'present'
          void socket.join(room)
          // Shared before the read mark and the ack: a send on another node from then on sees this viewer. Unshared,
          // the join fails and leaves the room again, so the next join shares it (in the room, it would change nothing).
          try {
            await viewerRegistry?.joined(id, socket.data.userId, socket.id, socket.data.expiresAt)
          } catch (error) {
            warn('sharing a viewer failed')(error)
            void socket.leave(room)
            throw new AppError('INTERNAL', 'the conversation could not be joined; try again')
          }
          // A leave or a close while the viewer was being shared has undone both (room and viewer): reading now would
          // mark what another node commits from then on, which no longer sees this viewer.
          if (!socket.connected || !socket.rooms.has(room) || lastWord.get(socket)?.get(id)?.word !== 'join')
            return 'gone'
          return 'joined'
        })
        return null
      } finally {
        ended()
      }
    },
    'conversation:leave': async (socket, conversationId) => {
      const id = parseRequest(conversationIdSchema, conversationId)
      if (!id.ok) throw invalid(id.issues, 'conversationId')
      const ended = say(socket, id.value, 'leave')
      try {
        const room = conversationRoom(id.value)
        if (socket.rooms.has(room)) {
          await socket.leave(room)
          // Left, whatever Redis says: a removal that fails is made again at each heartbeat (NodeEntries) until it
          // goes through, so the caller has nothing to try again.
          await viewerRegistry
            ?.left(id.value, socket.data.userId, socket.id)
            .catch(warn('sharing a viewer failed; its removal is retried at the next heartbeat'))
        }
        return null
      } finally {
        ended()
      }
    },
    'message:send': (socket, payload) => {
      sendStarted(socket, payload)
      return messaging.send(socket.data.userId, payload)
    },
    'session:renew': renew,
    // Not logged: a notice of the present, to the other participants' sockets on every node.
    typing: async (socket, payload) => {
      const input = parseRequest(typingSchema, payload)
      if (!input.ok) throw invalid(input.issues, 'payload')
      const { userId } = socket.data
      const { conversationId } = input.value
      const notice = typingStarted(socket, conversationId)
      try {
        const others = await messaging.typingRecipients(userId, conversationId, typingLimiter)
        // Overtaken by a send of this socket: the message ends the notice, which must not arrive after it. Closed
        // meanwhile: whoever was typing there has gone, and "… is typing" would stand for someone not there.
        if (notice.overtaken() || !socket.connected) return null
        notices.toUsers(others, 'typing', { conversationId, userId })
        return null
      } finally {
        notice.ended()
      }
    },
  }

  io.use((socket, next) => {
    sessions.authenticate(socket.handshake.auth?.token).then(
      ({ userId, sessionId, expiresAt }) => {
        const refusal = handshakeGuard?.(userId)
        if (refusal) return next(refusal)
        socket.data.userId = userId
        socket.data.sessionId = sessionId
        socket.data.expiresAt = expiresAt
        next()
      },
      (error: unknown) => {
        // A token that is bad, expired or of an ended session is the client's to mend (it refreshes, or logs in again).
        if (error instanceof AppError && error.code === 'UNAUTHORIZED')
          return next(handshakeError('UNAUTHORIZED', 'missing or invalid token'))
        // Anything else is the server's (the database did not answer): not the token's fault, so not UNAUTHORIZED,
        // which would spend the client's refresh token and, refused again, end its session. INTERNAL is retried later.
        logger.error({ err: error }, 'session check failed at the handshake')
        next(handshakeError('INTERNAL', 'the session could not be checked; try again shortly'))
      },
    )
  })

  // After authentication, before the cap: a user's handshakes are budgeted. Each reads the user's log and their
  // contacts' presence, and the cap counts only the sockets open at once, not one closed and opened again in a loop. As
  // for reads, the budget bounds the database's load and nothing more: with Redis away, handshakes go on unbudgeted.
  if (handshakeLimiter) {
    const spendHandshake = loadBudget(handshakeLimiter, HANDSHAKE_BUDGET_WAIT_MS, () =>
      logger.warn('the handshake budget does not answer (Redis away?): handshakes go through unbudgeted until it does'),
    )
    io.use((socket, next) => {
      spendHandshake(socket.data.userId).then(
        () => next(),
        (error: unknown) => {
          const retryAfterMs = error instanceof AppError ? error.retryAfterMs : undefined
          next(handshakeError('RATE_LIMITED', 'too many handshakes, try again later', retryAfterMs))
        },
      )
    })
  }

  // After authentication: a user's sockets are capped. The slot is taken here (not counted at 'connection', where
  // concurrent handshakes would all see room for one more) and given back when the socket or its transport closes.
  const cap = slots ?? new SocketSlots(maxSocketsPerUser)
  io.use((socket, next) => {
    Promise.resolve(cap.tryAcquire(socket.data.userId, socket.id)).then(
      (release) => {
        if (!release) return next(handshakeError('RATE_LIMITED', `at most ${maxSocketsPerUser} sockets per user`))
        // The transport may have closed while a shared cap answered.
        if (socket.conn.readyState === 'closed') return release()
        socket.once('disconnect', release)
        socket.conn.once('close', release)
        next()
      },
      (error: unknown) => {
        if (!isRedisFailure(error)) logger.error({ err: error }, 'socket cap unavailable')
        next(handshakeError('INTERNAL', 'the socket cap is unavailable; try again shortly'))
      },
    )
  })

  /**
   * Sends the user's logged events after the offset the client gave, then `sync:caughtUp` (or `sync:gap` when they
   * cannot all be had, or no offset came), then hands over to live events. Live events are held from before the log
   * is read, so none falls between the replay and the stream.
   */
  async function resume(socket: TalemySocket): Promise<void> {
    delivery.add(socket)
    const auth = socket.handshake.auth as Record<string, unknown> | undefined
    const input = parseRequest(handshakeResumeSchema, { offset: auth?.offset, epoch: auth?.epoch })
    // A malformed offset or epoch cannot be resumed from: the client is told of a gap and refetches.
    const result = input.ok
      ? await eventLog.resume(socket.data.userId, input.value.offset, input.value.epoch)
      : { ...(await eventLog.resume(socket.data.userId, undefined, undefined)), kind: 'gap' as const }
    if (socket.connected) await handOver(socket, result, true)
  }

  /**
   * A replay's events (and, after a handshake, `sync:caughtUp`), or `sync:gap` when the log cannot give them all; then
   * the socket goes live from the replay's end. Settles once it is live (or gone), after any further read: a
   * handshake's presence snapshot goes after its sync marker.
   */
  async function handOver(socket: TalemySocket, result: ResumeResult, afterHandshake: boolean): Promise<void> {
    if (!stillValid(socket)) return
    if (result.kind === 'replay') delivery.replay(socket, result.events)
    else socket.emit('sync:gap', { offset: result.offset, epoch: result.epoch })
    const caughtUp = afterHandshake && result.kind === 'replay'
    // Notifications were lost while this replay ran: what was committed after its read reached nobody here. The log
    // is read again from the replay's end (the sync marker waits, so that it names the real end) before going live.
    if (delivery.takeStale(socket)) return replayFrom(socket, result.offset, caughtUp)
    if (caughtUp) socket.emit('sync:caughtUp', { offset: result.offset, epoch: result.epoch })
    delivery.goLive(socket, result.offset)
  }

  /**
   * Ends a socket for a failure of the server's own (its database not answering), not a refusal: its connection is
   * closed as a network drop would close it, so the client reconnects with its backoff and the same token. A
   * `disconnect(true)` would read as a kick, which costs the client a token refresh (the contract's reconnect after
   * `io server disconnect`), and every client at once during an outage.
   */
  function dropConnection(socket: TalemySocket): void {
    socket.conn.close()
  }

  /** Reads a live socket's log again from the offset up to which it was sent everything, and goes live after it. */
  function resync(socket: TalemySocket): void {
    const from = delivery.pause(socket)
    if (from === undefined) return
    replayFrom(socket, from, false).catch((error: unknown) => {
      logger.error({ err: error, socketId: socket.id }, 'resync failed')
      dropConnection(socket)
    })
  }

  /**
   * Replays a replaying socket's log after `from`, and hands it over (`caughtUp`: then says `sync:caughtUp`). Rejects
   * when the log cannot be read: a handshake's then fails as its first read would.
   */
  async function replayFrom(socket: TalemySocket, from: number, caughtUp: boolean): Promise<void> {
    const result = await eventLog.resume(socket.data.userId, from, eventLog.epoch)
    if (socket.connected) await handOver(socket, result, caughtUp)
  }

  // Notifications between nodes are at most once (Redis pub/sub): when some may have been lost, every live socket here
  // is resynced, as at a handshake, and every replaying one reads its log again when its replay ends.
  onNotificationsLost?.(() => {
    for (const socket of delivery.notificationsLost()) resync(socket)
    // Presence changes are not logged: a fresh snapshot puts right whichever of them were lost.
    presence?.resendSnapshots(io.of('/').sockets.values()).catch(warn('presence snapshots failed'))
  })

  const handlerOf = (event: unknown): ClientEventHandler<ClientEventName> | undefined =>
    typeof event === 'string' && Object.hasOwn(handlers, event) ? handlers[event as ClientEventName] : undefined

  /** Answers one client event of a socket whose session was found live. Never throws. */
  function serve(socket: TalemySocket, event: unknown, payload: unknown, ack: AckFn | undefined): Promise<void> {
    const handler = handlerOf(event)
    // The timer may lag (a busy loop, or a test's clock moved on): no event is served on an expired token but a
    // renewal.
    if (event !== 'session:renew' && now() >= socket.data.expiresAt) {
      ack?.({ ok: false, error: { code: 'UNAUTHORIZED', message: 'token expired' } })
      expire(socket)
      return Promise.resolve()
    }
    if (!handler) {
      ack?.({ ok: false, error: { code: 'INVALID', message: 'unknown event' } })
      return Promise.resolve()
    }
    let result: Promise<unknown>
    try {
      result = handler(socket, payload)
    } catch (error) {
      result = Promise.reject(error)
    }
    return result.then(
      (data) => ack?.({ ok: true, data: data ?? null }),
      (error: unknown) => {
        if (!(error instanceof AppError) && !isRedisFailure(error))
          logger.error({ err: error, event, userId: socket.data.userId }, 'socket handler failed')
        ack?.({ ok: false, error: toApiError(error) })
      },
    )
  }

  /** An unknown event past its socket's tighter budget (`unknownEvents`); nothing is spent for a known one. */
  const overUnknown = (unknownEvents: RateLimiter, socket: TalemySocket, event: unknown) => {
    if (handlerOf(event)) return undefined
    const spent = unknownEvents.tryTake(socket.id)
    return spent.ok ? undefined : { what: 'unknown events' as const, retryAfterMs: spent.retryAfterMs }
  }

  /**
   * A socket past its budget of events (`what`: all of them, or the tighter one of unknown events): answered
   * RATE_LIMITED, logged (nothing it chose), disconnected.
   */
  function floodedOut(
    socket: TalemySocket,
    ack: AckFn | undefined,
    { what, retryAfterMs }: { what: 'events' | 'unknown events'; retryAfterMs: number },
  ): void {
    const message = `too many ${what}; this socket is disconnected`
    ack?.({ ok: false, error: { code: 'RATE_LIMITED', message, retryAfterMs } })
    logger.warn(
      { socketId: socket.id, userId: socket.data.userId },
      `${what} past the per-socket budget: socket disconnected`,
    )
    socket.disconnect(true)
  }

  io.on('connection', (socket) => {
    const { userId, sessionId } = socket.data
    // In its session's room at once: a revocation from now on ends it, the check below under way or not.
    void socket.join(sessionRoom(sessionId))
    // The session may have ended while the handshake was under way (its room was empty when it was revoked). Until the
    // check says it is live, the socket gets nothing (no user room, no replay, no notice) and its events wait: that
    // check may read the database, and an answer slower than an event would hand it to a revoked session. When it
    // cannot be told, the socket goes: the client reconnects, and its handshake checks again.
    const live = sessions.isLive(sessionId).then(
      (isLive) => {
        if (!isLive) socket.disconnect(true)
        // Closed meanwhile: its 'disconnect' has run, and a room or a stream opened now would outlive it.
        return isLive && socket.connected
      },
      (error: unknown) => {
        logger.error({ err: error, socketId: socket.id, userId }, 'session check failed')
        dropConnection(socket)
        return false
      },
    )
    void live.then((isLive) => {
      if (!isLive) return
      void socket.join(userRoom(userId))
      resume(socket).then(
        // After the replay and its sync marker: the snapshot is the present, what the client sees next.
        () => presence?.connected(socket).catch(warn('presence on connect failed')),
        (error: unknown) => {
          // Without its replay the stream would have a hole: the client reconnects and tries again.
          logger.error({ err: error, socketId: socket.id, userId }, 'resume failed')
          dropConnection(socket)
        },
      )
    })
    logger.debug({ socketId: socket.id, userId }, 'socket connected')

    // Counted as they arrive, before the session check and before any payload is read: a flood is cut short however
    // long that check takes, whatever the events are.
    const events = new RateLimiter(socketEventRateLimit, now)
    const unknownEvents = new RateLimiter(UNKNOWN_EVENT_RATE_LIMIT, now)
    let flooded = false

    // Every event, known or not, goes through here: arguments are untrusted and a handler must never throw. Each waits
    // for the session check (in the order they came); one of a session found ended is not served, its socket is gone.
    socket.onAny((event: unknown, ...args: unknown[]) => {
      // Past a budget, what is still on its way is read and dropped until the socket is gone.
      if (flooded) return
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined
      const spent = events.tryTake(socket.id)
      const over = !spent.ok
        ? { what: 'events' as const, retryAfterMs: spent.retryAfterMs }
        : overUnknown(unknownEvents, socket, event)
      if (over) flooded = true
      const answered = live.then((isLive) => {
        if (!isLive) return undefined
        // After the session check, not the earlier events' answers: an ack the close cuts off fails at the client,
        // which sends again over HTTP with the same clientId (idempotent). The client hears why, then the socket goes.
        if (over) return floodedOut(socket, ack, over)
        return serve(socket, event, args[0], ack)
      })
      inFlight.add(answered)
      void answered.finally(() => inFlight.delete(answered))
    })

    socket.on('disconnecting', () => {
      if (!viewerRegistry) return
      for (const room of socket.rooms) {
        const conversationId = conversationIdOfRoom(room)
        if (conversationId)
          viewerRegistry.left(conversationId, userId, socket.id).catch(warn('sharing a viewer failed'))
      }
    })
    socket.on('disconnect', (reason) => {
      // The client left the namespace but may keep its Engine.IO session: it would hold no socket, count in no cap
      // (its unauthenticated slot went back at this socket's CONNECT, connectTimeout was cleared by it), and live on
      // idle for good. There is no other namespace to stay for: the session goes with its socket (socket.io-client
      // closes it itself when its last socket leaves).
      if (reason === 'client namespace disconnect') socket.conn.close()
      clearTimeout(expiryTimers.get(socket))
      delivery.remove(socket)
      presence?.disconnected(userId).catch(warn('presence on disconnect failed'))
      logger.debug({ socketId: socket.id, userId, reason }, 'socket disconnected')
    })
    socket.on('error', (error: unknown) => {
      // Socket.IO's own errors are `Error`s; a client may also send an event named `error` (its parser lets that
      // name through), which the `onAny` above has already refused and which must not reach the log.
      if (error instanceof Error) logger.warn({ err: error, socketId: socket.id, userId }, 'socket error')
    })
    // Last: a token that expired since the handshake checked it disconnects the socket here and now, which must find
    // its 'disconnect' handler in place (its delivery, its presence), as any other close does.
    armExpiry(socket)
  })
  return {
    resync,
    // Each answer settles, whatever the handler did (a refusal is answered too).
    settled: () => Promise.all([...inFlight]).then(() => undefined),
  }
}
