import { loadAuth } from '../api/credentials'
import { drainStarted, drainStopped, followerGone, retryNow, roleChanged, shutdown } from './actions'
import type { Context, Handler } from './context'
import { drainLockName } from './outboxLock'
import type { SocketRootState } from './socketSlice'
import { createTabsLink } from './tabs/tabsLink'

/**
 * One socket per browser: with `options.tabs`, this store's tab takes part in the election (`ctx.tabs`), and each
 * change of its part is `socket/roleChanged` (the connection handler then makes the socket of the new kind). A tab
 * is a follower until it gets the lock; a leader that loses it says so synchronously, so its socket closes before
 * anything else runs. Without `options.tabs` nothing happens and the slice's role stays `solo`.
 */
export function buildTabsHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const tabs = ctx.options.tabs
  if (!tabs) return () => {}
  const { dispatch } = ctx.mwApi
  // Dispatching while the store is being built throws: a part known that early is told once the store exists.
  let building = true
  let stopped = false
  /** This tab holds the user's drain lock (`drainStarted` until `drainStopped`). */
  let draining = false
  const link = createTabsLink(tabs, {
    timers: ctx.timers,
    now: ctx.now,
    backoff: ctx.backoff,
    random: ctx.random,
    onRole: (role) => {
      if (!building && !stopped) dispatch(roleChanged({ role }))
    },
    onFollowerGone: () => {
      if (!stopped) dispatch(followerGone())
    },
    // The silent page may hold the user's drain lock (a send of its own under way, or waiting out the network or the
    // server's rate): hung, it would hold every tab's sends back until it runs again. Taken from it, the lock goes to
    // the next in its queue; the silent tab hears of the loss when it wakes, and stops draining (`lockLost`). Should a
    // live tab hold it instead, it asks again as well, its try in flight settling: the server's idempotency by
    // `clientId` keeps a message that goes twice single. Held here, the lock is not the silent page's: taken, this tab's
    // own send under way would go twice, by whichever tab waited for the lock.
    onSilentTab: () => {
      const userId = ctx.options.selectUserId?.(ctx.mwApi.getState()) ?? null
      if (!stopped && !draining && userId !== null) ctx.lock.steal?.(drainLockName(userId))
    },
    // The page the user looks at may be a follower's, with no socket of its own: its being shown, or its wake (below),
    // is the browser's socket's trigger, in the holder whose page, hidden, sees neither.
    onFollowerRetry: (reason) => {
      if (!stopped) dispatch(retryNow({ reason }))
    },
    sessionOver: () => {
      const state = ctx.mwApi.getState()
      if (state.socket.connection.status !== 'unauthorized') return null
      // Storage holds another session (a login or refresh in another tab) this tab has not heard of yet: the tab asking
      // may be on it, and must not be told it is over. This tab follows it shortly (its storage event), and its hub answers.
      const stored = loadAuth(ctx.options.storage)
      if (stored && stored.token !== ctx.options.selectToken(state)) return null
      return ctx.options.selectUserId?.(state) ?? null
    },
  })
  ctx.tabs = link
  queueMicrotask(() => {
    building = false
    if (!stopped) dispatch(roleChanged({ role: link.role() }))
  })
  return (action) => {
    if (drainStarted.match(action)) draining = true
    else if (drainStopped.match(action)) draining = false
    if (shutdown.match(action) && !stopped) {
      stopped = true
      link.stop()
    }
    // This page woke with its page shown (the wake watch): in a follower, the holder is told.
    if (retryNow.match(action) && action.payload.reason === 'wake' && !stopped) link.wake()
  }
}
