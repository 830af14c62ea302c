import { nanoid } from '@reduxjs/toolkit'
import type { Id } from '../../contract'
import type { BackoffOptions } from '../backoff'
import type { Timers } from '../timers'
import type { AppSocket } from '../types'
import { createElection } from './election'
import { createTabHub, type TabHub } from './hub'
import type { ResumePoint, TabChannel, TabLock, TabRole, Visibility } from './protocol'
import { answerWhileSessionOver } from './sessionOver'
import { createTabSocket, type TabSocket } from './tabSocket'

/**
 * The edges one socket per browser runs on: the page's (`browserTabs`) or fakes (tests put several "tabs", or two
 * "browsers", in one process with a memory channel and lock).
 */
export interface TabsOptions {
  /** Part of the lock's and the channel's names: tabs with the same name share one socket. */
  channelName: string
  channel: TabChannel
  lock: TabLock
  /**
   * The page's visibility: hidden, a tab marks nothing read, and as a follower takes the lock from a silent holder only
   * after `HIDDEN_SILENCE_MS` (150 s).
   */
  visibility: Visibility
  /** This tab's id on the channel; default a random one. */
  tabId?: string
  /** How often the holder says it is alive (and followers that they are there). Default 1,000 ms. */
  heartbeatMs?: number
  /** Heartbeats missed before a follower takes the lock from a silent holder. Default 3. */
  missedBeats?: number
}

/** What `makeSocket` gives the connection handler: the socket its middleware drives, and the one apps may see. */
export interface TabsSocket {
  /** The leader's real socket behind the hub (rooms are the union of the tabs'), or a follower's proxy. */
  socket: AppSocket
  /** What `useSocket().socket` shows: the real socket in the leader, `null` in a follower. */
  exposed: AppSocket | null
  /** Ends the hub or the proxy (after the socket itself was disconnected). */
  close(reason: string): void
  /** In the leader: where the handshake resumes from, given the store's own point (`TabHub.handshakeFrom`). */
  handshakeFrom?(own: ResumePoint): ResumePoint
}

export interface TabsLink {
  role(): Exclude<TabRole, 'solo'>
  /** The socket for this tab's part: `createReal` is only called in the leader. */
  makeSocket(createReal: () => AppSocket, userId: Id, resume: () => ResumePoint): TabsSocket
  /**
   * This tab wants no socket (`socket/disconnect`, its socket already closed): out of the election, so the browser's
   * socket goes to a tab that wants it (a holder resigns: the next tab takes over at once), until `join`.
   */
  leave(): void
  /** This tab wants a socket again: it takes part in the election again (a follower until it gets the lock). */
  join(): void
  /** This tab's page woke from a sleep: a follower tells the holder (`TabSocket.wake`); a holder has nothing to do here. */
  wake(): void
  stop(): void
}

interface LinkHooks {
  timers: Timers
  now: () => number
  /** The hub's retries of failed joins: their backoff and its random source. */
  backoff: BackoffOptions
  random: () => number
  /** The part changed; called synchronously, and when leadership is lost before anything else happens. */
  onRole(role: Exclude<TabRole, 'solo'>): void
  /** In the holder: a follower left. */
  onFollowerGone?(): void
  /** In the holder: a follower's page was shown, or woke from a sleep (see `TabHubOptions.onFollowerRetry`). */
  onFollowerRetry?(reason: 'visible' | 'wake' | 'asked'): void
  /** The user whose session is over in this tab (`unauthorized`: its refresh was refused), or null. */
  sessionOver?(): Id | null
  /**
   * A tab went silent while this one ran on (a holder this tab took the socket from, a follower this holder dropped):
   * its page keeps the locks it holds until it runs again.
   */
  onSilentTab?(): void
}

/** A tab id for a tab given none (`TabsOptions.tabId`). */
export const randomTabId = () => `tab-${nanoid()}`

/**
 * The lock each tab holds for as long as its page lives: the browser frees it when the tab closes or crashes, which
 * the holder's hub watches (a crash says no goodbye, and a hidden tab's silence counts only after 150 s).
 */
export const tabLockName = (channelName: string, tabId: string) => `talemy.socket.${channelName}.tab.${tabId}`

/** What `TabLock.watch` says of a tab's page lock (`tabLockName`). */
export type WatchTab = (tab: string, handlers: { onFree(): void; onUnheld(): void }) => () => void

/**
 * Watches another tab's page lock (`tabLockName`), where the lock can (`TabLock.watch`): `onFree` once that tab is
 * gone, closed or crashed. `undefined` where it cannot.
 *
 * @example tabPageWatch(tabs)?.('tab-1', { onFree: forget, onUnheld() {} })
 */
export function tabPageWatch({ channelName, lock }: Pick<TabsOptions, 'channelName' | 'lock'>): WatchTab | undefined {
  const { watch } = lock
  return watch ? (tab, handlers) => watch.call(lock, tabLockName(channelName, tab), handlers) : undefined
}

/**
 * Binds the election, the holder's hub and the follower's proxy into what the middleware needs: who this tab is, and
 * the right socket for it. Until the lock is granted a tab is a follower (a tab opened beside a holder never gets it).
 *
 * @example const link = createTabsLink(browserTabs('talemy'), { timers, now: Date.now, onRole: (role) => … })
 */
export function createTabsLink(options: TabsOptions, hooks: LinkHooks): TabsLink {
  const tabId = options.tabId ?? randomTabId()
  const heartbeatMs = options.heartbeatMs ?? 1_000
  const missedBeats = options.missedBeats ?? 3
  const { channel, visibility } = options
  /** This tab's follower proxy, while it has one: the election's news of the holder goes to it. */
  let proxyNow: TabSocket | null = null
  /** `leave` was called and no `join` since: this tab wants no socket, and has no proxy to say goodbye for it. */
  let aside = false
  /** This tab's hub, while it has one: it answers the other tabs itself, and its heartbeat says where it stands. */
  let hubNow: TabHub | null = null

  // Held until `stop` (or the page goes): the holder's hub waits on it to hear of this tab's end.
  const releasePageLock = options.lock.request(
    tabLockName(options.channelName, tabId),
    { steal: false },
    { onAcquired() {}, onLost() {} },
  )
  const watchTab = tabPageWatch(options)

  const election = createElection({
    tabId,
    name: `talemy.socket.${options.channelName}`,
    channel,
    lock: options.lock,
    timers: hooks.timers,
    now: hooks.now,
    heartbeatMs,
    missedBeats,
    visibility,
    onRole: (role) => hooks.onRole(role),
    onLeaderGone: (leader) => proxyNow?.holderGone(leader),
    onLeaderHeard: (leader, head) => proxyNow?.holderIs(leader, head),
    beatHead: () => hubNow?.head() ?? null,
    onHolderRobbed: () => hooks.onSilentTab?.(),
  })

  // The lock's holder keeps it when the session ends (every tab follows), with no hub left to answer: whoever asks
  // for the socket meanwhile is told the session is over (`sessionOver.ts`), not left waiting for an answer.
  const unsubscribe = channel.subscribe((message) => {
    if (hubNow !== null || election.role() !== 'leader') return
    const over = hooks.sessionOver?.() ?? null
    const answer = over === null ? null : answerWhileSessionOver(message, tabId, over)
    if (answer) channel.post(answer)
  })

  return {
    role: () => election.role(),
    makeSocket(createReal, userId, resume) {
      if (election.role() === 'leader') {
        const real = createReal()
        const hub = createTabHub({
          tabId,
          userId,
          channel,
          socket: real as never,
          visibility,
          timers: hooks.timers,
          now: hooks.now,
          whenHeld: (fn) => election.whenHeld(fn),
          backoff: hooks.backoff,
          random: hooks.random,
          heartbeatMs,
          missedBeats,
          onFollowerGone: (silent) => {
            hooks.onFollowerGone?.()
            if (silent) hooks.onSilentTab?.()
          },
          onFollowerRetry: (reason) => hooks.onFollowerRetry?.(reason),
          ...(watchTab ? { watchTab } : {}),
        })
        hubNow = hub
        return {
          socket: hub.localSocket as unknown as AppSocket,
          exposed: real,
          handshakeFrom: hub.handshakeFrom,
          close: (reason) => {
            if (hubNow === hub) hubNow = null
            hub.stop(reason)
          },
        }
      }
      const proxy = createTabSocket({ tabId, userId, channel, resume, visibility, timers: hooks.timers, heartbeatMs })
      proxyNow = proxy
      return {
        socket: proxy.socket as unknown as AppSocket,
        exposed: null,
        close: () => {
          if (proxyNow === proxy) proxyNow = null
          proxy.close()
        },
      }
    },
    leave() {
      aside = true
      election.leave()
    },
    join() {
      aside = false
      election.join()
    },
    wake() {
      proxyNow?.wake()
    },
    stop() {
      unsubscribe()
      election.stop()
      // A tab that stood aside said its goodbye when it left (its proxy's `detach`), and has sent over HTTP since: what
      // it leaves unsent in storage now no holder would take over before a reload. Its goodbye again, as the page goes
      // (attached or not, the holder adopts what a leaving tab left).
      if (aside) channel.post({ kind: 'detach', from: tabId })
      releasePageLock()
    },
  }
}
