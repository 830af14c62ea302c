/**
 * How many Engine.IO sessions one client address may hold open before any of them carries an authenticated socket.
 * Socket.IO closes such a session after `connectTimeout` (45 s), but does not bound how many one client opens meanwhile:
 * each costs memory and timers, and needs no token. A real client's stays unauthenticated for a round trip or two (its
 * CONNECT follows the engine's open at once), so 100 at once from one address is far beyond what a NAT full of users
 * reconnecting with socket.io-client's jittered backoff makes, and a refused one is tried again after that backoff.
 */
export const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 100

export const UNAUTHENTICATED_REFUSAL = 'too many unauthenticated connections from this address'

/**
 * The wait a refusal at the cap asks for (429 `RATE_LIMITED`, `retryAfterMs` and `Retry-After`): a real client's
 * session authenticates within a round trip or two, giving its slot back, so one is usually free within a second; a
 * flood's are held until they close. socket.io-client tries again after its own backoff (1 s and up) anyway.
 */
export const UNAUTHENTICATED_RETRY_AFTER_MS = 1_000

/**
 * Engine.IO sessions without an authenticated socket yet, counted per client address (this node's: they live in its
 * memory, which is what the cap protects).
 *
 * @example const release = pending.add(address); if (!release) conn.close(); else conn.once('close', release)
 */
export class UnauthenticatedSessions {
  private readonly open = new Map<string, number>()

  constructor(private readonly max: number) {}

  /** Whether `address` may open one more (allowRequest's early, clear refusal; `add` is what holds the cap). */
  hasRoom(address: string): boolean {
    return (this.open.get(address) ?? 0) < this.max
  }

  /** Counts one session of `address` until the answer is called (once is enough); undefined when at the cap. */
  add(address: string): (() => void) | undefined {
    const count = this.open.get(address) ?? 0
    if (count >= this.max) return undefined
    this.open.set(address, count + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.open.get(address) ?? 1) - 1
      if (left > 0) this.open.set(address, left)
      else this.open.delete(address)
    }
  }
}
