import { MAX_PRESENCE_SNAPSHOT, type Id, type PresenceState } from '../../src/contract'
import type { Db } from '../db'
import { failureStreak, type Logger } from '../logger'
import { iso } from '../services/rows'
import type { ConversationMembers } from '../services/members'
import type { Notices } from './notices'
import type { TalemySocket } from './types'

export const DEFAULT_PRESENCE_GRACE_SECONDS = 5
/**
 * How often (real time) each node looks for users whose last socket has gone; the grace is measured on the store's clock
 * (`now`, or Redis's for the nodes' shared store).
 */
export const PRESENCE_SWEEP_MS = 500
/** How often (real time) a server notes its users with a socket as seen (`notesSeen`). */
export const PRESENCE_NOTE_MS = 5_000
/**
 * A user taken offline longer than this after they were last noted seen was watched by no server meanwhile (every node
 * was down): they were last seen at that note, not when a server came back and found them gone. Above what a live
 * cluster can reach: a note every `PRESENCE_NOTE_MS`, a killed node's socket entries counting 6 s more, a heartbeat
 * and a sweep late. Notes and goings are both timed on the store's clock (Redis's, with several nodes: `clock`).
 */
export const SEEN_GAP_MS = PRESENCE_NOTE_MS + 10_000

/** The `settings` key under which the one server's close keeps who was online then, and since when each had gone. */
const ONLINE_AT_CLOSE = 'presence_online_at_close'

/** `[userId, ISO time]` pairs as `closing` wrote them; nothing for anything else. */
function onlineAtClose(value: string | undefined): [Id, string][] {
  if (value === undefined) return []
  try {
    const pairs: unknown = JSON.parse(value)
    if (!Array.isArray(pairs)) return []
    return pairs.filter(
      (pair): pair is [Id, string] => Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string',
    )
  } catch {
    return []
  }
}

/**
 * Who is announced online, and since when a user has had no socket — this process's (`MemoryPresenceStore`) or the
 * nodes' shared one (`RedisPresenceStore`). Marking online or offline answers whether this call changed it, so one
 * node only announces each change.
 */
export interface PresenceStore {
  /**
   * Announces `userId` online and forgets when they were gone; true when they were not online, or put back by `restore`
   * with nobody told (the caller announces it). `announce` false: it puts back what their contacts were last told, and
   * nobody is to tell it.
   */
  markOnline(userId: Id, announce?: boolean): Promise<boolean>
  /** Announces `userId` offline; true when they were online (the caller announces it). `announce` as for `markOnline`. */
  markOffline(userId: Id, announce?: boolean): Promise<boolean>
  /**
   * A shared store's: the change a mark answered true for has been told. Until then it is noted untold, and taken over
   * by `repairUntold` once old: a node killed between a mark and its word leaves the change unsaid, and no other node
   * would say it (the mark answers true once).
   */
  told?(userId: Id, online: boolean): Promise<void>
  /** A shared store's: the changes left untold long past their mark are made to be told again (by the sweep). */
  repairUntold?(): Promise<void>
  /**
   * A shared store's: the time now (ms) on its clock, the one goings are timed on (Redis's). Users are noted seen on it:
   * with a node's own, a node behind by more than `SEEN_GAP_MS` less a note's period made a note look older than it
   * was, and a user's going was kept as that note (lastSeenAt before he had even come back).
   */
  clock?(): Promise<number>
  onlineUsers(): Promise<Id[]>
  isOnline(userIds: readonly Id[]): Promise<boolean[]>
  /**
   * Since when (ms) `userId` has had no socket (the first note wins), and the time now, both on the store's clock: a
   * shared store keeps one clock for every node (Redis's), and `at`, this node's time, counts only in a store of its own.
   */
  noteGone(userId: Id, at: number): Promise<GoneSince>
  clearGone(userId: Id): Promise<void>
  /** `clearGone` for each of `userIds`, in one round trip (a sweep's users with a socket, every pass). */
  clearGoneOf(userIds: readonly Id[]): Promise<void>
  /**
   * A shared store's: whether it has lost its data (a restart without persistence, a flush) since `markIntact`, or is
   * new. A store of this process's own loses nothing its process keeps.
   */
  lostData?(): Promise<boolean>
  markIntact?(): Promise<void>
  /**
   * A shared store's: puts `userId` back online with nobody told (their contacts may have been told they went, or
   * sent a snapshot without them): the next `markOnline` answers true, as if they were not online. One online already
   * stays as they were.
   */
  restore?(userId: Id): Promise<void>
  /** Whether each is online and told so (not put back by `restore` since). Default `isOnline`. */
  isAnnounced?(userIds: readonly Id[]): Promise<boolean[]>
}

/** Since when a user has had no socket, and the time now, on one clock (ms). */
export interface GoneSince {
  since: number
  now: number
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly online = new Set<Id>()
  private readonly gone = new Map<Id, number>()
  async markOnline(userId: Id) {
    this.gone.delete(userId)
    if (this.online.has(userId)) return false
    this.online.add(userId)
    return true
  }
  async markOffline(userId: Id) {
    this.gone.delete(userId)
    return this.online.delete(userId)
  }
  async onlineUsers() {
    return [...this.online]
  }
  async isOnline(userIds: readonly Id[]) {
    return userIds.map((id) => this.online.has(id))
  }
  async noteGone(userId: Id, at: number) {
    const since = this.gone.get(userId) ?? at
    this.gone.set(userId, since)
    return { since, now: at }
  }
  async clearGone(userId: Id) {
    this.gone.delete(userId)
  }
  async clearGoneOf(userIds: readonly Id[]) {
    if (this.gone.size === 0) return
    for (const userId of userIds) this.gone.delete(userId)
  }
}

export interface PresenceTrackerOptions {
  /** How changes and snapshots reach the sockets (each checked as it goes). */
  notices: Pick<Notices, 'toUsers' | 'toSocket'>
  db: Db
  /** Who is in which conversation (reading a user's contacts keeps the members of their conversations for sends). */
  members: Pick<ConversationMembers, 'contactsOf' | 'contactsOnConnect'>
  store: PresenceStore
  /** Live sockets of a user (on every node, when shared). */
  socketCount: (userId: Id) => number | Promise<number>
  /**
   * `socketCount` of each of `userIds`, at once: the sweep asks it of every online user of the cluster each pass, and
   * one by one that is a round trip to Redis per user. Default: `socketCount` of each in turn.
   */
  socketCounts?: (userIds: readonly Id[]) => readonly number[] | Promise<readonly number[]>
  /**
   * The users with a live socket on this node (past its handshake's replay, as for `connected`). Default: none (nothing
   * to put back after the store lost its data).
   */
  localUsers?: () => readonly Id[]
  /**
   * Puts this node's sockets back in the shared count now (the heartbeat's renewal, due within 2 s), for a store that
   * lost its data. Default: nothing to put back (one node counts its own sockets in memory).
   */
  restoreLocal?: () => Promise<unknown>
  graceSeconds: number
  now: () => number
  logger: Logger
  /**
   * Notes in the database, when they come online and every `PRESENCE_NOTE_MS`, the users with a socket here, for
   * `recoverSeen` after a crash of the one node, and for the sweep after every node of a cluster was down (`SEEN_GAP_MS`).
   * Default: false.
   */
  notesSeen?: boolean
  /**
   * The store is shared by several nodes: each notes only the users with a socket on it (`localUsers`), so a node that
   * dies stops vouching for its users at once. Default: false.
   */
  sharedStore?: boolean
  /** How often (real time) `notesSeen` notes the users with a socket. Default `PRESENCE_NOTE_MS`. */
  noteEveryMs?: number
}

/**
 * Presence: a user is online from their first socket until their last one has been gone for the grace period (a
 * reload reconnects within it: nobody sees a flicker). Changes go as `presence:changed` to everyone who shares a
 * conversation with the user (their sockets on every node, through `Notices`, which checks each socket's token);
 * every new socket gets a `presence:snapshot` of those people. A periodic sweep on each node finds users without
 * sockets — also those of a node that died, whose socket entries expire unrenewed — and, after the grace, marks them
 * offline with `lastSeenAt` when they went.
 *
 * @example const presence = new PresenceTracker({ notices, db, store, socketCount, graceSeconds: 5, now, logger }); presence.start()
 */
export class PresenceTracker {
  private timer: ReturnType<typeof setInterval> | undefined
  private sweeping = false
  /** When (real time) the users with a socket were last noted as seen. */
  private notedAt = Number.NEGATIVE_INFINITY

  /** Said once per streak of failed sweeps, and when one goes through again. */
  private readonly failures = failureStreak(
    (error) => this.options.logger.warn({ err: error }, 'presence sweep failed'),
    () => this.options.logger.info('presence sweep works again'),
  )

  /** Live sockets owed a snapshot (their connect's, or one sent again, failed on a read): the sweep sends them one. */
  private readonly owed = new Set<TalemySocket>()

  private readonly noteFailures = failureStreak(
    (error) => this.options.logger.warn({ err: error }, 'noting users seen failed'),
    () => this.options.logger.info('noting users seen works again'),
  )

  constructor(private readonly options: PresenceTrackerOptions) {}

  /** The people who share a conversation with `userId` (never themselves). */
  contactsOf(userId: Id): Promise<Id[]> {
    return this.options.members.contactsOf(userId)
  }

  /**
   * Presence of `userIds` as the store and the database know it. The online flags are read last, so a caller that sends
   * the answer at once sends nothing older than a change told meanwhile (a sweep tells "offline" only after it has
   * marked the store): a snapshot waiting on the database would otherwise overwrite that change in the browser.
   */
  async statesOf(userIds: readonly Id[]): Promise<PresenceState[]> {
    if (userIds.length === 0) return []
    const rows = await this.options.db.query<{ id: string; last_seen_at: Date | string | null }>(
      `select id, last_seen_at from users where id = any($1::text[])`,
      [[...userIds]],
    )
    const online = await this.options.store.isOnline(userIds)
    const seen = new Map(rows.map((row) => [row.id, row.last_seen_at === null ? null : iso(row.last_seen_at)]))
    return userIds.map((userId, i) => ({ userId, online: online[i] ?? false, lastSeenAt: seen.get(userId) ?? null }))
  }

  /** For `/api/users`: each listed user's presence, `null`s for people who share no conversation with the asker. */
  async forAsker(askerId: Id): Promise<Map<Id, PresenceState>> {
    const states = await this.statesOf(await this.contactsOf(askerId))
    return new Map(states.map((state) => [state.userId, state]))
  }

  /**
   * A socket is live: its user comes online (told to their contacts) if they were not, and it gets the snapshot. When a
   * read fails the sweep sends the snapshot once it can: a browser connected again shows nobody's presence until then.
   */
  async connected(socket: TalemySocket): Promise<void> {
    try {
      await this.connecting(socket)
    } catch (error) {
      if (socket.connected) this.owed.add(socket)
      throw error
    }
  }

  private async connecting(socket: TalemySocket): Promise<void> {
    // Gone before its replay ended (its session revoked during the handshake, or a drop): its disconnect has been
    // handled already, so marking its user online now would show them online to their contacts until the sweep.
    if (!socket.connected) return
    const { userId } = socket.data
    const marking = this.options.store.markOnline(userId)
    let cameOnline = false
    let contacts: Id[]
    try {
      ;[cameOnline, contacts] = await Promise.all([marking, this.options.members.contactsOnConnect(userId)])
      if (cameOnline) {
        // Noted before anyone is told: a crash after the word "online" still leaves this as when they were last seen.
        if (this.options.notesSeen) await this.noteSeen([userId], await this.seenAt())
        // Told as the store says it, read last: the socket may have gone during these reads and, the database slower
        // than the grace, a sweep have taken the user offline and said so; "online" after that would be the last word.
        const [state] = await this.statesOf([userId])
        if (state?.online) this.tell(contacts, state)
        await this.toldOf(userId, true)
      }
    } catch (error) {
      // Online in the store and nobody told, no later connect nor sweep would tell them: the store goes back to what
      // the contacts know, and the sweep's look at the users with a socket here tells them once it can. So too when the
      // marking itself failed: given up on (Redis stalled past the command bound), it is still sent and may land later.
      if (cameOnline || (await marking.catch(() => true)))
        await this.options.store.markOffline(userId, false).catch(() => undefined)
      throw error
    }
    const users = await this.snapshotOf(contacts)
    this.options.notices.toSocket(socket, 'presence:snapshot', { users })
  }

  /** A snapshot of `contacts`: at most what the browser takes (it refuses a longer list whole). */
  private snapshotOf(contacts: readonly Id[]): Promise<PresenceState[]> {
    return this.statesOf(contacts.slice(0, MAX_PRESENCE_SNAPSHOT))
  }

  /**
   * Sends each of `sockets` a fresh `presence:snapshot` (changes told meanwhile may have been lost on the way). Those it
   * could not send to (a read failed) get theirs from the sweep once it can: a lost "offline" would otherwise stand.
   */
  async resendSnapshots(sockets: Iterable<TalemySocket>): Promise<void> {
    const byUser = new Map<Id, TalemySocket[]>()
    for (const socket of sockets) {
      const list = byUser.get(socket.data.userId)
      if (list) list.push(socket)
      else byUser.set(socket.data.userId, [socket])
    }
    for (const [userId, list] of byUser) {
      try {
        const users = await this.snapshotOf(await this.contactsOf(userId))
        for (const socket of list) this.options.notices.toSocket(socket, 'presence:snapshot', { users })
        byUser.delete(userId)
      } catch (error) {
        for (const rest of byUser.values()) for (const socket of rest) if (socket.connected) this.owed.add(socket)
        throw error
      }
    }
  }

  /** A socket closed: when it was the user's last, the grace period starts now. */
  async disconnected(userId: Id): Promise<void> {
    if ((await this.options.socketCount(userId)) === 0) await this.options.store.noteGone(userId, this.options.now())
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), PRESENCE_SWEEP_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** One pass over the online users: those without sockets for the whole grace period go offline. */
  async sweep(): Promise<void> {
    if (this.sweeping) return
    this.sweeping = true
    const { store, socketCount, now, graceSeconds, db } = this.options
    // Taken before the counts: a user noted with a socket was online at this time.
    const noting =
      this.options.notesSeen === true &&
      performance.now() - this.notedAt >= (this.options.noteEveryMs ?? PRESENCE_NOTE_MS)
    const at = noting ? await this.seenAt() : now()
    const present: Id[] = []
    try {
      // The goings it held are lost with it, and the users online then are in no set walked here: their contacts keep
      // "online" and their last_seen_at stays older. Those noted seen since their last going are put back online, gone
      // from now on, for this sweep to take offline after the grace (those with a socket stay).
      if (await store.lostData?.()) {
        await this.restoreSeen()
        await store.markIntact?.()
      }
      await store.repairUntold?.()
      // Every user online in the cluster, every pass: those with a socket (nearly all) cost no round trip each.
      const online = await store.onlineUsers()
      const counts = await this.socketCounts(online)
      const absent: Id[] = []
      for (const [i, userId] of online.entries()) ((counts[i] ?? 0) > 0 ? present : absent).push(userId)
      await store.clearGoneOf(present)
      // Looked at one by one, their count read again: a socket may have come since the counts.
      for (const userId of absent) {
        if ((await socketCount(userId)) > 0) {
          present.push(userId)
          await store.clearGone(userId)
          continue
        }
        const { since, now: at } = await store.noteGone(userId, now())
        if (at - since < graceSeconds * 1000) continue
        let wentOffline: boolean
        try {
          wentOffline = await store.markOffline(userId)
        } catch (error) {
          // A command given up on (Redis stalled past its bound) is still sent, and may land later: offline with nobody
          // told, and no later sweep looking at them again. Put back online behind it (one connection: after it), so a
          // later sweep takes them offline and says so; as one nobody told, for another node's sweep may have been the
          // one to take them offline and say so: their next connect says "online" again.
          await (store.restore ? store.restore(userId) : store.markOnline(userId)).catch(() => undefined)
          throw error
        }
        if (!wentOffline) continue
        let lastSeenAt = new Date(since).toISOString()
        let contacts: Id[]
        try {
          // Every node was down when they went (a crash of them all): the first one back finds them gone only then.
          const [row] = await db.query<{ last_seen_at: Date | string }>(
            `update users set last_seen_at = coalesce(
               (select s.seen_at from presence_seen s where s.user_id = users.id
                and s.seen_at < $2::timestamptz - make_interval(secs => $3::double precision)),
               $2::timestamptz)
             where id = $1 returning last_seen_at`,
            [userId, lastSeenAt, SEEN_GAP_MS / 1000],
          )
          if (row) lastSeenAt = iso(row.last_seen_at)
          contacts = await this.contactsOf(userId)
        } catch (error) {
          // Offline in the store with nobody told, no later sweep would look at them again: they go back online and
          // gone since then (a store of this node's own keeps that time; the shared one notes its own now), for the
          // next sweep to say it.
          await store.markOnline(userId, false)
          await store.noteGone(userId, since)
          throw error
        }
        // A socket that came meanwhile (it may have told "online" already): put it right, and say nothing. Nothing is
        // awaited between this last look and the word "offline", so no "online" can come after it.
        if ((await socketCount(userId)) > 0) {
          await store.markOnline(userId, false)
          continue
        }
        this.tell(contacts, { userId, online: false, lastSeenAt })
        await this.toldOf(userId, false)
      }
      if (noting) {
        // With a shared store `present` holds every node's users: each node vouches only for its own.
        const local = this.options.sharedStore ? new Set(this.options.localUsers?.() ?? []) : undefined
        await this.noteSeen(local ? present.filter((userId) => local.has(userId)) : present, at)
        this.notedAt = performance.now()
      }
      await this.reassertLocal()
      await this.sendOwed()
      this.failures.succeeded()
    } catch (error) {
      this.failures.failed(error)
    } finally {
      this.sweeping = false
    }
  }

  private async socketCounts(userIds: readonly Id[]): Promise<readonly number[]> {
    if (this.options.socketCounts) return this.options.socketCounts(userIds)
    const counts: number[] = []
    for (const userId of userIds) counts.push(await this.options.socketCount(userId))
    return counts
  }

  /**
   * This server closes and no other takes its users over (one node, presence in its memory): every socket goes with it,
   * and the next server starts with nobody online. So each user online goes now (one gone within the grace, when their
   * last socket went), kept as `last_seen_at`: without it, someone whose tab closed while the server was away would be
   * told "last seen" at an earlier going, or never. Nobody is told now: their browsers lose the connection too, and
   * show presence again only from the next server's snapshot, whose start keeps them online for the rest of the grace.
   */
  async closing(): Promise<void> {
    const { store, socketCount, now, db } = this.options
    const at = now()
    const ids: Id[] = []
    const seen: string[] = []
    for (const userId of await store.onlineUsers()) {
      ids.push(userId)
      seen.push(new Date((await socketCount(userId)) > 0 ? at : (await store.noteGone(userId, at)).since).toISOString())
      await store.markOffline(userId)
    }
    // One statement for all of them: the close waits on it. Who was online and since when is kept for the next start
    // too (`recoverSeen`): a restart is a reload of every tab at once.
    if (ids.length > 0)
      await db.query(
        `with kept as (
           update users u set last_seen_at = v.at from unnest($1::text[], $2::timestamptz[]) as v(id, at)
           where u.id = v.id
         )
         insert into settings (key, value) values ($3, $4) on conflict (key) do update set value = excluded.value`,
        [ids, seen, ONLINE_AT_CLOSE, JSON.stringify(ids.map((id, i) => [id, seen[i]]))],
      )
  }

  /**
   * At the start of the one server: a previous run killed before its close (`closing`) kept no going for its users online
   * then, whose tabs may have closed while it was away. Each gets the latest time that run noted them online as
   * `last_seen_at`, when later than the one kept (a going recorded since, at a sweep or at a close, stands). Those a
   * close found online are online again, gone since then, while the grace from then lasts.
   */
  async recoverSeen(): Promise<void> {
    const { db, store, now, graceSeconds } = this.options
    await db.query(
      `update users u set last_seen_at = s.seen_at from presence_seen s
       where u.id = s.user_id and (u.last_seen_at is null or u.last_seen_at < s.seen_at)`,
    )
    await db.query(`delete from presence_seen`)
    // Those online at the previous run's close went with it, and are online until the grace from then has passed: a
    // snapshot read before they are back would tell their contacts, back first, that they went (and then that they
    // came), as a reload would without the grace. Nobody is told now; the sweep takes offline those not back by then.
    const [closed] = await db.query<{ value: string }>(`delete from settings where key = $1 returning value`, [
      ONLINE_AT_CLOSE,
    ])
    const at = now()
    for (const [userId, wentAt] of onlineAtClose(closed?.value)) {
      const since = Date.parse(wentAt)
      if (!(at - since < graceSeconds * 1000)) continue
      await store.markOnline(userId, false)
      await store.noteGone(userId, since)
    }
  }

  /** The time now on the store's clock, for a note; this node's when the store has none or does not answer. */
  private async seenAt(): Promise<number> {
    return (await this.options.store.clock?.().catch(() => undefined)) ?? this.options.now()
  }

  /** Keeps `at` as the latest time `userIds` were known online; a failure is logged (presence goes on without it). */
  private async noteSeen(userIds: readonly Id[], at: number): Promise<void> {
    if (userIds.length === 0) return
    await this.options.db
      .query(
        `insert into presence_seen (user_id, seen_at) select id, $2::timestamptz from unnest($1::text[]) as id
         on conflict (user_id) do update set seen_at = greatest(presence_seen.seen_at, excluded.seen_at)`,
        [[...userIds], new Date(at).toISOString()],
      )
      .then(
        () => this.noteFailures.succeeded(),
        (error: unknown) => this.noteFailures.failed(error),
      )
  }

  /**
   * Puts back online in the store, gone from now on, every user noted seen (`presence_seen`) since their last going
   * was kept: the users online when it lost its data, and those who went within the grace or while it was away. Seen
   * since by more than `SEEN_GAP_MS`: a note a node took on its own clock (one of an earlier version, in a rolling
   * deploy) just before a going kept may look later than it (a user long gone, shown online again for the grace). None
   * is told now: their contacts were told "online" last. The sweep takes offline those with no socket after the grace,
   * and keeps the note as last seen when they went more than `SEEN_GAP_MS` before. Those with a socket are told
   * "online" by their node's sweep or their next connect (`restore`): a snapshot read from the emptied store
   * meanwhile said they were away.
   */
  private async restoreSeen(): Promise<void> {
    const { store, db, now } = this.options
    const rows = await db.query<{ user_id: string }>(
      `select s.user_id from presence_seen s join users u on u.id = s.user_id
       where u.last_seen_at is null
          or u.last_seen_at < s.seen_at - make_interval(secs => $1::double precision)`,
      [SEEN_GAP_MS / 1000],
    )
    for (const { user_id: userId } of rows) {
      await (store.restore ? store.restore(userId) : store.markOnline(userId))
      await store.noteGone(userId, now())
    }
  }

  /**
   * Users with a socket here who are not online in the store: it lost its data (Redis restarted without persistence),
   * or another node swept them while this one could not renew their sockets; or put back online with nobody told
   * (`restore`). They are online again, and told so once.
   */
  private async reassertLocal(): Promise<void> {
    const local = [...new Set(this.options.localUsers?.() ?? [])]
    if (local.length === 0) return
    const { store } = this.options
    const online = await (store.isAnnounced ? store.isAnnounced(local) : store.isOnline(local))
    if (online.every(Boolean)) return
    // Their sockets first: until the next heartbeat the shared count has none of them, and a sweep on another node that
    // saw them online with no socket would take them offline after a grace shorter than that (and keep that going as
    // their last_seen_at), though they never left.
    await this.options.restoreLocal?.()
    for (const [i, userId] of local.entries()) {
      if (online[i]) continue
      let cameOnline: boolean
      try {
        cameOnline = await this.options.store.markOnline(userId)
      } catch (error) {
        // Given up on, it may still land (as at a connect): offline again behind it, for the next sweep to say it.
        await this.options.store.markOffline(userId, false).catch(() => undefined)
        throw error
      }
      if (!cameOnline) continue
      try {
        // As at a connect, noted before anyone is told: a crash after the word "online" leaves this as their last seen.
        if (this.options.notesSeen) await this.noteSeen([userId], await this.seenAt())
        const [[state], contacts] = await Promise.all([this.statesOf([userId]), this.contactsOf(userId)])
        this.tell(contacts, { ...state!, online: true })
        await this.toldOf(userId, true)
      } catch (error) {
        // Online in the store with nobody told, no later sweep would tell them: offline again, for the next one to.
        await this.options.store.markOffline(userId, false)
        throw error
      }
    }
  }

  /** The snapshots that could not be sent, to the sockets still there (those it cannot send stay owed). */
  private async sendOwed(): Promise<void> {
    if (this.owed.size === 0) return
    const sockets = [...this.owed].filter((socket) => socket.connected)
    this.owed.clear()
    await this.resendSnapshots(sockets)
  }

  /**
   * Forgets the change as untold, once told. A failure is let go: the change, told already, is only told once more when
   * `repairUntold` takes it over.
   */
  private async toldOf(userId: Id, online: boolean): Promise<void> {
    await this.options.store.told?.(userId, online).catch(() => undefined)
  }

  private tell(contacts: readonly Id[], state: PresenceState): void {
    this.options.notices.toUsers(contacts, 'presence:changed', state)
  }
}
