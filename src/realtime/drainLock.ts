import { nanoid } from '@reduxjs/toolkit'
import type { StorageLike } from './outboxStorage'
import { hostTimers, type TimerHandle, type Timers } from './timers'
import type { TabLock } from './tabs/protocol'
import { createWebTabLock, type LockManagerLike } from './tabs/tabLock'

/**
 * A lock that lets one tab of a user drain the outbox at a time. `request` queues for the lock named `name` and calls
 * `onAcquired(release)` once it holds it (synchronously, inside `request`, when it is free and the mechanism allows);
 * the holder calls `release()` when it has nothing left to send. The returned function gives up: it leaves the queue,
 * or releases when held. `onLost` is called when a held lock was taken away without being released (a lease whose tab
 * was suspended past its expiry, another tab holding it since): the holder holds nothing any more, and asks again for
 * what it still has to do. The server's idempotency (sender, `clientId`) stays the safety net should two tabs ever
 * send the same message.
 */
export interface DrainLock {
  request(name: string, onAcquired: (release: () => void) => void, onLost?: () => void): () => void
  /**
   * Takes `name` from its holder and lets it go at once, so the next in the queue gets it: the holder is a page that
   * hung (the tabs' election robbed it of the socket), and would keep it until it runs again, then hear `onLost`.
   * Absent where the lock cannot be taken (a lease expires by itself; a lock of one realm has no hung holder).
   */
  steal?(name: string): void
}

/**
 * A lock inside one JavaScript realm: a FIFO queue per name. Two stores given the same instance behave like two tabs
 * under Web Locks (tests); a store on its own gets one and never waits.
 *
 * @example const lock = createMemoryLock(); makeStore({ drainLock: lock }); makeStore({ drainLock: lock })
 */
export function createMemoryLock(): DrainLock & { holder(name: string): number | null } {
  const queues = new Map<string, { id: number; onAcquired: (release: () => void) => void }[]>()
  let nextId = 1

  function grant(name: string) {
    const queue = queues.get(name)
    const head = queue?.[0]
    if (!head) return
    let released = false
    head.onAcquired(() => {
      if (released) return
      released = true
      leave(name, head.id)
    })
  }

  function leave(name: string, id: number) {
    const queue = queues.get(name)
    if (!queue) return
    const i = queue.findIndex((w) => w.id === id)
    if (i === -1) return
    queue.splice(i, 1)
    if (queue.length === 0) queues.delete(name)
    // The next waiter gets it in a microtask, like Web Locks (never inside the releaser's own call).
    else if (i === 0) queueMicrotask(() => grant(name))
  }

  return {
    request(name, onAcquired) {
      const id = nextId++
      const queue = queues.get(name) ?? []
      queues.set(name, queue)
      queue.push({ id, onAcquired })
      // Free: granted at once (a send goes out in the same task); otherwise when the holder lets go.
      if (queue.length === 1) grant(name)
      return () => leave(name, id)
    },
    holder(name) {
      return queues.get(name)?.[0]?.id ?? null
    },
  }
}

/**
 * A drain lock over the tabs' election lock edge (queued, never stealing): one piece of Web Locks code serves the
 * outbox drain, the token refresh and the election.
 *
 * @example const lock = drainLockOver(createMemoryTabLock().tab('tab-1'))
 */
export function drainLockOver(lock: TabLock): DrainLock {
  return {
    request(name, onAcquired, onLost) {
      const giveUp = lock.request(
        name,
        { steal: false },
        { onAcquired: () => onAcquired(giveUp), onLost: () => onLost?.() },
      )
      return giveUp
    },
    steal(name) {
      const letGo = lock.request(name, { steal: true }, { onAcquired: () => letGo(), onLost: () => {} })
    },
  }
}

/**
 * Web Locks (`navigator.locks`): exclusive, queued, released by the browser when the tab closes or crashes, so no
 * lease and no expiry are needed. A waiting request is abandoned through an `AbortSignal`.
 *
 * @example createSocketMiddleware({ …, drainLock: createWebLock(navigator.locks) })
 */
export function createWebLock(locks: LockManagerLike): DrainLock {
  return drainLockOver(createWebTabLock(locks))
}

/** The lease kept in storage: who holds the lock and until when (renewed while held). */
interface Lease {
  owner: string
  expiresAt: number
}

/**
 * A lease in storage with an expiry, for browsers without Web Locks: the holder renews it every third of `ttlMs`; a
 * tab that closes without releasing is replaced once the lease expires. A holder whose renewal finds another tab's
 * lease (its page was suspended past the expiry, or both took an expired lease at once) gives the lock up (`onLost`)
 * rather than writing over it, which would leave both tabs holding it. Reads-then-writes on localStorage are not
 * atomic across tabs, so two tabs may rarely both drain until the next renewal — the server's idempotency covers that.
 *
 * @example createSocketMiddleware({ …, drainLock: createLeaseLock(localStorage, { ttlMs: 10_000 }) })
 */
export function createLeaseLock(
  storage: StorageLike,
  {
    ttlMs = 10_000,
    now = Date.now,
    owner = `tab-${nanoid()}`,
    timers = hostTimers,
  }: { ttlMs?: number; now?: () => number; owner?: string; timers?: Timers } = {},
): DrainLock {
  const read = (key: string): Lease | null => {
    try {
      const value = JSON.parse(storage.getItem(key) ?? 'null') as Lease | null
      return value && typeof value.owner === 'string' && typeof value.expiresAt === 'number' ? value : null
    } catch {
      return null
    }
  }
  const write = (key: string, lease: Lease) => {
    try {
      storage.setItem(key, JSON.stringify(lease))
    } catch {
      // A full storage: we drain without a lease (idempotency still holds).
    }
  }
  let n = 0
  return {
    request(name, onAcquired, onLost) {
      const key = `talemy.lock.${name}`
      const me = `${owner}#${++n}`
      let timer: TimerHandle | null = null
      let held = false
      let done = false
      const schedule = (fn: () => void, ms: number) => {
        timer = timers.setTimeout(fn, ms)
        ;(timer as { unref?: () => void } | null)?.unref?.()
      }
      const renew = () => {
        if (done) return
        const lease = read(key)
        if (lease && lease.owner !== me && lease.expiresAt > now()) {
          // Another tab took the lock while this one's timers were frozen: it is theirs now.
          done = true
          timer = null
          onLost?.()
          return
        }
        write(key, { owner: me, expiresAt: now() + ttlMs })
        schedule(renew, ttlMs / 3)
      }
      const tryAcquire = () => {
        if (done) return
        const lease = read(key)
        if (!lease || lease.owner === me || lease.expiresAt <= now()) {
          held = true
          renew()
          onAcquired(release)
        } else schedule(tryAcquire, Math.min(1_000, Math.max(50, lease.expiresAt - now())))
      }
      const release = () => {
        if (done) return
        done = true
        if (timer !== null) timers.clearTimeout(timer)
        if (held && read(key)?.owner === me) {
          try {
            storage.removeItem(key)
          } catch {
            // nothing to do
          }
        }
      }
      tryAcquire()
      return release
    },
  }
}

/**
 * Web Locks where the browser has them, else a lease in `storage`.
 *
 * @example const lock = defaultDrainLock(localStorage) // makeStore's, for the outbox drain and the token refresh
 */
export function defaultDrainLock(
  storage: StorageLike | undefined,
  timers: Timers = hostTimers,
  now: () => number = Date.now,
): DrainLock {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  if (locks && typeof locks.request === 'function') return createWebLock(locks)
  return storage ? createLeaseLock(storage, { timers, now }) : createMemoryLock()
}
