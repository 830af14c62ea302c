import type { TabLock } from './protocol'

/** The part of `navigator.locks` the election uses. */
export interface LockManagerLike {
  request(
    name: string,
    options: { steal?: boolean; signal?: AbortSignal; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>
  query?(): Promise<{ held?: { name?: string; clientId?: string }[] }>
}

/** The `clientId` Web Locks shows for the holder of `name`, or null. */
async function holderClient(locks: LockManagerLike, name: string): Promise<string | null> {
  const snapshot = await locks.query!()
  return snapshot.held?.find((lock) => lock.name === name)?.clientId ?? null
}

/**
 * The election lock over Web Locks (`navigator.locks`). The granted callback returns a promise kept pending until we
 * let go, so the lock is held exactly that long; the browser releases it when the tab closes or crashes. A holder whose
 * lock is stolen sees its request's promise reject (`AbortError`): that is `onLost`. A waiting request is abandoned
 * through an `AbortSignal`; a steal cannot carry one (Web Locks refuses `signal` with `steal`), but it is granted at
 * once, and a steal given up before its grant lets the lock go as soon as it comes.
 *
 * @example const lock = createWebTabLock(navigator.locks); const giveUp = lock.request('talemy.leader', { steal: false }, { onAcquired, onLost })
 */
export function createWebTabLock(locks: LockManagerLike): TabLock {
  /** This page's client id, as Web Locks shows it (read once, while this page held a lock). */
  let me: string | null = null
  const lock: TabLock = {
    request(name, { steal }, { onAcquired, onLost }) {
      const abort = new AbortController()
      let state: 'waiting' | 'held' | 'done' = 'waiting'
      let release = () => {}
      locks
        .request(name, steal ? { steal: true } : { signal: abort.signal }, () => {
          if (state === 'done') return Promise.resolve()
          state = 'held'
          const held = new Promise<void>((resolve) => (release = resolve))
          if (me === null && typeof locks.query === 'function')
            holderClient(locks, name).then(
              (id) => {
                if (state === 'held') me = id
              },
              () => {},
            )
          onAcquired()
          return held
        })
        .then(
          () => {
            // Released by us: nothing to tell.
          },
          () => {
            // AbortError while held: stolen. While waiting it was our own abort (state is already `done`).
            if (state !== 'held') return
            state = 'done'
            onLost()
          },
        )
      return () => {
        if (state === 'held') release()
        else if (state === 'waiting' && !steal) abort.abort()
        state = 'done'
      }
    },
  }
  lock.watch = (name, { onFree, onUnheld }) => {
    const abort = new AbortController()
    let done = false
    // A look first (`ifAvailable`: granted at once, or `null` when held): a queued request for a lock nobody holds
    // would be granted at once, as if its tab were gone.
    locks
      .request(name, { ifAvailable: true }, (probe) => {
        if (done) return Promise.resolve()
        if (probe !== null) {
          done = true
          onUnheld()
          return Promise.resolve()
        }
        locks
          .request(name, { signal: abort.signal }, () => {
            if (!done) {
              done = true
              onFree()
            }
            // Let go at once: its tab is gone, and nobody else waits on it for anything.
            return Promise.resolve()
          })
          .catch(() => {})
        return Promise.resolve()
      })
      .catch(() => {})
    return () => {
      if (done) return
      done = true
      abort.abort()
    }
  }
  if (typeof locks.query === 'function') {
    // Unsure (no id read yet, or `query` failing) counts as lost: the holder then steps down, as it would without it.
    lock.held = (name) =>
      holderClient(locks, name).then(
        (id) => me !== null && id === me,
        () => false,
      )
  }
  return lock
}

type RequestState = 'waiting' | 'granted' | 'lost' | 'released'

interface LockRequest {
  name: string
  tabId: string
  state: RequestState
  handlers: { onAcquired(): void; onLost(): void }
}

/** The election lock of one JavaScript realm, with one `TabLock` per simulated tab. */
export interface MemoryTabLock {
  /** The lock as one tab sees it: its requests are that tab's. */
  tab(tabId: string): TabLock
  /** The tab went away (closed or crashed): what it holds is released and it leaves every queue, with no callback. */
  closeTab(tabId: string): void
  /** The tab holding `name`, or null. */
  holder(name: string): string | null
  /** The tabs waiting for `name`, in queue order. */
  waiting(name: string): string[]
}

/**
 * Web Locks' exclusive mode in memory, for tests and Node: a FIFO queue per name, `steal` takes the lock from its
 * holder at once (the holder hears `onLost`) ahead of the queue. Callbacks are delivered asynchronously through
 * `deliver` (a microtask by default), never inside the call that caused them, as in a browser.
 *
 * @example const lock = createMemoryTabLock(); createElection({ tabId: 'a', lock: lock.tab('a'), … }); lock.closeTab('a')
 */
export function createMemoryTabLock({
  deliver = queueMicrotask,
}: {
  deliver?: (fn: () => void) => void
} = {}): MemoryTabLock {
  const held = new Map<string, LockRequest>()
  const queues = new Map<string, LockRequest[]>()
  /** Every request not given up yet (a lost one too: its `onLost` is still to come). */
  const live = new Set<LockRequest>()

  function grant(name: string, request: LockRequest) {
    request.state = 'granted'
    held.set(name, request)
    deliver(() => {
      // A grant stolen before it was delivered is still announced (then its loss), as the browser runs the callback.
      if (request.state === 'granted' || request.state === 'lost') request.handlers.onAcquired()
    })
  }

  function grantNext(name: string) {
    if (held.has(name)) return
    const queue = queues.get(name) ?? []
    const next = queue.shift()
    if (queue.length === 0) queues.delete(name)
    if (next) grant(name, next)
  }

  function giveUp(request: LockRequest) {
    const { name, state: was } = request
    request.state = 'released'
    live.delete(request)
    if (was === 'waiting') {
      const queue = queues.get(name) ?? []
      const i = queue.indexOf(request)
      if (i !== -1) queue.splice(i, 1)
      if (queue.length === 0) queues.delete(name)
    } else if (was === 'granted' && held.get(name) === request) {
      held.delete(name)
      grantNext(name)
    }
  }

  function request(tabId: string, name: string, steal: boolean, handlers: LockRequest['handlers']): () => void {
    const request: LockRequest = { name, tabId, state: 'waiting', handlers }
    live.add(request)
    const holder = held.get(name)
    if (steal && holder) {
      holder.state = 'lost'
      held.delete(name)
      deliver(() => {
        if (holder.state === 'lost') holder.handlers.onLost()
      })
    }
    if (!held.has(name) && (steal || !queues.has(name))) grant(name, request)
    else queues.set(name, [...(queues.get(name) ?? []), request])
    return () => giveUp(request)
  }

  return {
    tab(tabId) {
      return {
        request: (name, { steal }, handlers) => request(tabId, name, steal, handlers),
        held: (name) => Promise.resolve(held.get(name)?.tabId === tabId),
        watch(name, { onFree, onUnheld }) {
          let done = false
          if (!held.has(name)) {
            deliver(() => {
              if (!done) onUnheld()
              done = true
            })
            return () => void (done = true)
          }
          let acquired = false
          let release: (() => void) | null = null
          release = request(tabId, name, false, {
            onAcquired() {
              acquired = true
              release?.()
              if (!done) onFree()
              done = true
            },
            onLost() {},
          })
          if (acquired) release()
          return () => {
            done = true
            release?.()
          }
        },
      }
    },
    closeTab(tabId) {
      // Waiting requests first, so a lock it held is not handed to its own next request.
      const mine = [...live].filter((r) => r.tabId === tabId)
      for (const request of mine) if (request.state === 'waiting') giveUp(request)
      for (const request of mine) giveUp(request)
    },
    holder(name) {
      return held.get(name)?.tabId ?? null
    },
    waiting(name) {
      return (queues.get(name) ?? []).map((r) => r.tabId)
    },
  }
}
