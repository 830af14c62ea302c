import { on, type Emitter } from './bindSocket'

/** What is read of Socket.IO's Manager: its `open` (one per connection) and the Engine.IO socket it then holds. */
export interface UpgradingManager extends Emitter {
  engine?: Emitter & { readyState?: string }
}

/**
 * Calls `onStalled` when the manager's connection is stuck in its switch from HTTP long-polling to WebSocket.
 *
 * Engine.IO's client, once the WebSocket answered its probe (`upgrading`), pauses polling and waits for the poll under
 * way to end before it switches. Should the WebSocket fail after that (`upgradeError`: the server closes it after its
 * `upgradeTimeout`, 10 s, when that poll never reached it), nothing resumes polling (engine.io-client's `_probe`): no
 * packet passes either way, and the connection ends only when its heartbeat gives up, 20 s on. A probe that fails
 * before it is answered (a proxy without WebSocket) is not a stall: polling goes on.
 *
 * @example const unwatch = watchStalledUpgrade(socket.io, () => dispatch(transportStalled())); … unwatch()
 */
export function watchStalledUpgrade(manager: UpgradingManager, onStalled: () => void): () => void {
  let unwatchEngine = () => {}
  const watchEngine = () => {
    unwatchEngine()
    const engine = manager.engine
    if (!engine) return
    let upgrading = false
    const offs = [
      on(engine, 'upgrading', () => {
        upgrading = true
      }),
      on(engine, 'upgrade', () => {
        upgrading = false
      }),
      on(engine, 'upgradeError', () => {
        // A connection that closed during its upgrade says so after its `close` ("probe error: socket closed"), once
        // the socket may already be trying again on a new one: it is gone, not stalled.
        if (!upgrading || engine.readyState === 'closed') return
        upgrading = false
        onStalled()
      }),
    ]
    unwatchEngine = () => {
      for (const off of offs) off()
    }
  }
  const offOpen = on(manager, 'open', watchEngine)
  // Already open (a socket made on a manager that is): its engine is watched from now on.
  watchEngine()
  return () => {
    offOpen()
    unwatchEngine()
  }
}
