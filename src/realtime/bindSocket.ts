import type { Dispatch, UnknownAction } from '@reduxjs/toolkit'
import {
  eventMetaSchema,
  isErrorCode,
  parse,
  EPHEMERAL_EVENTS,
  ephemeralEventSchemas,
  SERVER_EVENTS,
  SYNC_EVENTS,
  overCharacters,
  syncPayloadSchema,
  serverEvents,
  type EphemeralEventName,
  type ServerEventName,
  type ServerEventSpec,
  type ValidationIssue,
} from '../contract'
import {
  connected,
  connectFailed,
  disconnected,
  eventRejected,
  internalError,
  ephemeralEventActions,
  serverEventActions,
} from './actions'
import { directSink, type ResumeSink } from './resumeHandler'
import type { DisconnectReason } from './actions'
import type { AppSocket } from './types'

type Listener = (...args: unknown[]) => void

/** What `on` needs of an emitter: a socket, its manager, an Engine.IO socket. */
export interface Emitter {
  on(event: string, listener: Listener): unknown
  off(event: string, listener: Listener): unknown
}

/**
 * Subscribes and returns the matching unsubscribe (socket.io-client's `on.ts`): the binder collects these and runs
 * them all on teardown, so listeners never pile up across reconnects or sessions.
 *
 * @example const off = on(socket, 'connect', onConnect); off()
 */
export function on(emitter: Emitter, event: string, listener: Listener): () => void {
  emitter.on(event, listener)
  return () => {
    emitter.off(event, listener)
  }
}

/** `connect_error`'s message is the server's error code for a refused handshake, anything else is the network's. */
export function connectErrorOf(error: unknown): {
  code: ReturnType<typeof codeOf>
  message: string
  retryAfterMs?: number
} {
  const refused = refusedRequestOf(error)
  const message = refused ? refused.code : error instanceof Error ? error.message : String(error)
  // A refusal for the handshake budget says how long to wait (the server's `data`, beside the code).
  const wait = refused
    ? refused.retryAfterMs
    : (error as { data?: { retryAfterMs?: unknown } } | null)?.data?.retryAfterMs
  const retryAfterMs = typeof wait === 'number' && Number.isFinite(wait) && wait > 0 ? wait : undefined
  return retryAfterMs === undefined
    ? { code: codeOf(message), message }
    : { code: codeOf(message), message, retryAfterMs }
}

/**
 * A handshake request the server refused for its rate (HTTP 429: an address at its cap of unauthenticated sessions,
 * refused before any Socket.IO packet, so no CONNECT_ERROR says it), read as one: Engine.IO's client gives it as a
 * network failure ("xhr poll error"), the status in its `description` and the request in its `context`, whose body
 * (the contract's `{ error }`, with the wait) is still there in this listener (the request is aborted after it). A
 * refused WebSocket says no status in a browser; the page's transports end on long-polling, which does.
 */
function refusedRequestOf(error: unknown): { code: 'RATE_LIMITED'; retryAfterMs?: unknown } | undefined {
  const { type, description, context } = (error ?? {}) as { type?: unknown; description?: unknown; context?: unknown }
  if (type !== 'TransportError' || description !== 429) return undefined
  try {
    const body = JSON.parse((context as { responseText: string }).responseText) as { error: { retryAfterMs?: unknown } }
    return { code: 'RATE_LIMITED', retryAfterMs: body.error.retryAfterMs }
  } catch {
    return { code: 'RATE_LIMITED' }
  }
}

const codeOf = (message: string) => (isErrorCode(message) ? message : ('NETWORK' as const))

/**
 * The one impure edge of the layer: turns everything the socket (and its manager) says into actions. Server payloads
 * are validated against the contract's schema first; a payload that fails becomes `socket/eventRejected` only.
 * Logged events with their `{ offset }` and the `sync:*` events go to `resume` (the middleware's offset gate, which
 * dispatches them in order and once); without one they are dispatched as they come.
 * Returns the teardown that removes every listener it added.
 *
 * @example const teardown = bindSocket(socket, store.dispatch); … teardown()
 */
export function bindSocket(
  socket: AppSocket,
  dispatch: Dispatch<UnknownAction>,
  resume: ResumeSink = directSink(dispatch),
): () => void {
  const emitter = socket as unknown as Emitter

  // A throwing reducer must not escape into Socket.IO's emitter (it would skip the other listeners of the event).
  const guarded =
    (where: string, listener: Listener): Listener =>
    (...args) => {
      try {
        listener(...args)
      } catch (error) {
        dispatch(internalError({ where, message: error instanceof Error ? error.message : String(error) }))
      }
    }

  // An event the contract does not know is rejected too (visible in DevTools), never passed on.
  const known = new Set<string>([...SERVER_EVENTS, ...SYNC_EVENTS, ...EPHEMERAL_EVENTS])
  const onAny = guarded('onAny', (event, ...args) => {
    const name = String(event)
    if (known.has(name)) return
    const rejected = { event: name.slice(0, 100), issues: [{ path: '', message: 'unknown event' }] }
    // One the log numbers (a newer server's, in a rolling deploy) takes its place in it, as a refused payload does: held
    // for, it would stall every later event, and each resume would replay it again.
    const meta = args.length > 1 ? parse(eventMetaSchema, args[args.length - 1]) : null
    if (meta?.ok) resume.logged(eventRejected(rejected, meta.value.offset), meta.value.offset)
    else dispatch(eventRejected(rejected))
  })
  const anySocket = socket as unknown as { onAny?: (l: Listener) => void; offAny?: (l: Listener) => void }
  anySocket.onAny?.(onAny)

  const offs = [
    () => anySocket.offAny?.(onAny),
    on(
      emitter,
      'connect',
      guarded('connect', () =>
        dispatch(connected({ socketId: socket.id ?? '', recovered: socket.recovered === true })),
      ),
    ),
    on(
      emitter,
      'disconnect',
      // Socket.IO types the reason (`Socket.DisconnectReason`); the listener list erases it.
      guarded('disconnect', (reason) => dispatch(disconnected({ reason: reason as DisconnectReason }))),
    ),
    on(
      emitter,
      'connect_error',
      guarded('connect_error', (error) => dispatch(connectFailed(connectErrorOf(error)))),
    ),
    ...SERVER_EVENTS.map((event) => {
      const toAction = serverEventReceiver(event)
      return on(
        emitter,
        event,
        guarded(event, (payload, meta) => logged(event, toAction, payload, meta)),
      )
    }),
    ...SYNC_EVENTS.map((event) =>
      on(
        emitter,
        event,
        guarded(event, (payload) => {
          const result = parse(syncPayloadSchema, payload)
          if (result.ok) resume.sync(event, result.value)
          else dispatch(eventRejected({ event, issues: result.issues }))
        }),
      ),
    ),
    ...EPHEMERAL_EVENTS.map((event) =>
      on(
        emitter,
        event,
        guarded(event, (payload) => resume.notice(ephemeralEventAction(event, payload))),
      ),
    ),
  ]

  function logged(event: ServerEventName, toAction: ServerEventReceiver, payload: unknown, meta: unknown) {
    // An emitter that sends no offset (a synthetic burst, an older server) is passed on as it comes.
    if (meta === undefined) return dispatch(toAction(payload))
    const parsed = parse(eventMetaSchema, meta)
    if (!parsed.ok)
      return dispatch(eventRejected({ event, issues: parsed.issues.map((i) => ({ ...i, path: `meta.${i.path}` })) }))
    // A refused payload still takes its place in the log: the gate moves past it rather than wait for it.
    resume.logged(toAction(payload, parsed.value.offset), parsed.value.offset)
  }

  return () => {
    for (const off of offs.splice(0)) off()
  }
}

/** The text fields longer than their limit, or `null` when none is. */
function tooLong(limits: Readonly<Record<string, number | undefined>>, value: unknown): ValidationIssue[] | null {
  let issues: ValidationIssue[] | null = null
  for (const field in limits) {
    const max = limits[field]
    const text = (value as Record<string, unknown>)[field]
    if (max !== undefined && typeof text === 'string' && overCharacters(text, max))
      (issues ??= []).push({ path: field, message: `at most ${max} characters` })
  }
  return issues
}

/** One server event's payload (and its offset, if logged) → its action, `socket/<event>` or `socket/eventRejected`. */
type ServerEventReceiver = (payload: unknown, offset?: number) => UnknownAction

/**
 * Validates a server payload against its entry in the contract's `serverEvents` (its precompiled check first, where
 * it has one; the schema for everything else and for the issues): `socket/<event>` with the fresh value, or
 * `socket/eventRejected` with the issues. The entry and the action creator are looked up once per event, not per
 * payload (a burst is thousands of one event).
 *
 * @example const toAction = serverEventReceiver('message:new'); dispatch(toAction(payload, offset))
 */
export function serverEventReceiver(event: ServerEventName): ServerEventReceiver {
  const spec = serverEvents[event] as ServerEventSpec<ServerEventName>
  const { check, schema } = spec
  const limits = spec.textLimits as Record<string, number | undefined>
  const create = serverEventActions[event] as ServerEventReceiver
  return (payload, offset) => {
    let value = check?.(payload) ?? null
    if (value === null) {
      const result = parse(schema, payload)
      if (!result.ok) return eventRejected({ event, issues: result.issues }, offset)
      value = result.value
    }
    const issues = tooLong(limits, value)
    if (issues !== null) return eventRejected({ event, issues }, offset)
    return create(value, offset)
  }
}

/**
 * `serverEventReceiver(event)(payload, offset)`, for one payload.
 *
 * @example serverEventAction('message:new', payload) // { type: 'socket/message:new', payload, meta }
 */
export function serverEventAction(event: ServerEventName, payload: unknown, offset?: number): UnknownAction {
  return serverEventReceiver(event)(payload, offset)
}

/** A typing or presence payload, validated: `socket/<event>`, or `socket/eventRejected` with the issues. */
export function ephemeralEventAction(event: EphemeralEventName, payload: unknown): UnknownAction {
  const result = parse(ephemeralEventSchemas[event] as never, payload)
  if (!result.ok) return eventRejected({ event, issues: result.issues })
  return (ephemeralEventActions[event] as (payload: unknown) => UnknownAction)(result.value)
}

/**
 * The socket the app was given (`useSocket().socket`), once the layer has closed it for good (the app's own
 * `disconnect()` on the browser's socket, `socket/disconnect`, a logout): its `connect()` (and `open()`, which calls it)
 * asks the layer to connect instead (`socket/connect`), which opens the socket this tab's part calls for. Opened as it
 * was, it would connect with nothing bound to it: the server's events and its status unheard, the badge "offline".
 *
 * @example disownAppSocket(socket, () => dispatch(connect()))
 */
export function disownAppSocket(socket: AppSocket, connectAsked: () => void): void {
  socket.connect = (() => {
    connectAsked()
    return socket
  }) as AppSocket['connect']
}

/**
 * Calls `whenNotConnected` after the app's own `disconnect()` (or `close()`) on `socket` while it is not connected (its
 * handshake under way, a backoff): Socket.IO fires no `disconnect` then, yet the call is as deliberate as on a live
 * socket, whose `disconnect` says "io client disconnect" itself. Answers the undo, to call before the layer closes it.
 */
export function watchAppDisconnect(socket: AppSocket, whenNotConnected: () => void): () => void {
  const disconnect = socket.disconnect
  socket.disconnect = () => {
    const connected = socket.connected
    disconnect.call(socket)
    if (!connected) whenNotConnected()
    return socket
  }
  return () => {
    socket.disconnect = disconnect
  }
}
