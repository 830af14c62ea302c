import { randomBytes } from 'node:crypto'
import type { Id, ServerEventName } from '../../src/contract'
import type { Db, Queryable } from '../db'
import { FIRST_DATE_MS } from '../db/dateRange'

/** One event in one user's log. */
export interface LoggedEvent {
  userId: Id
  offset: number
  event: ServerEventName
  payload: unknown
}

/** An event to append: the offset is the log's to give. */
export type NewEvent = Omit<LoggedEvent, 'offset'>

/** Where a resuming client stands: every later event (`replay`), or a `gap` it must refetch across. */
export type ResumeResult =
  | { kind: 'replay'; events: LoggedEvent[]; offset: number; epoch: string }
  | { kind: 'gap'; offset: number; epoch: string }

export const DEFAULT_MAX_REPLAY = 1000
/**
 * Most events one pruning statement deletes. After a long outage (or a retention made shorter) the backlog may be
 * millions of rows: deleted in one statement it could outlast the database's statement timeout and fail every time,
 * and the log would only grow. A bounded piece takes milliseconds on the `created_at` index.
 */
const DEFAULT_PRUNE_BATCH = 5_000
export const DEFAULT_EVENT_RETENTION_SECONDS = 7 * 24 * 3600

/**
 * Takes the log counters of `userIds` in ascending id order, for the rest of the transaction. Every writer that logs
 * events takes them first and in this order, so two transactions with common recipients queue instead of deadlocking.
 * (`no key update`: inserts referencing these users, which take `key share`, are not blocked.)
 */
export async function lockCounters(tx: Queryable, userIds: readonly Id[]): Promise<void> {
  if (userIds.length === 0) return
  await tx.query(`select id from users where id = any($1::text[]) order by id for no key update`, [
    [...new Set(userIds)],
  ])
}

/**
 * Appends `events` in one statement: each user's counter goes up by that user's number of events, and the events get
 * the offsets in between, in the order given. Run inside the transaction of the change, after `lockCounters`.
 * Answers the events with their offsets, in the order given.
 */
export async function appendEvents(tx: Queryable, events: readonly NewEvent[], at: string): Promise<LoggedEvent[]> {
  if (events.length === 0) return []
  const rows = await tx.query<{ ord: string | number; offset: string | number }>(
    `with input as (
       select * from unnest($1::text[], $2::text[], $3::jsonb[]) with ordinality as t(user_id, event, payload, ord)
     ), numbered as (
       select *, row_number() over (partition by user_id order by ord) as rn, count(*) over (partition by user_id) as n
       from input
     ), counters as (
       update users u set event_offset = u.event_offset + c.n
       from (select user_id, max(n) as n from numbered group by user_id) c where u.id = c.user_id
       returning u.id, u.event_offset
     ), placed as (
       select nb.*, c.event_offset - nb.n + nb.rn as "offset" from numbered nb join counters c on c.id = nb.user_id
     ), ins as (
       insert into user_events (user_id, "offset", event, payload, created_at)
       select user_id, "offset", event, payload, $4::timestamptz from placed
     )
     select ord, "offset" from placed order by ord`,
    [events.map((e) => e.userId), events.map((e) => e.event), events.map((e) => JSON.stringify(e.payload)), at],
  )
  if (rows.length !== events.length)
    throw new Error(`event log: ${rows.length} offsets for ${events.length} events (unknown user?)`)
  return rows.map((row, index) => ({ ...events[index]!, offset: Number(row.offset) }))
}

export interface EventLogOptions {
  maxReplay?: number
  retentionSeconds?: number
  /** The clock, in ms. */
  now?: () => number
  /** Most events one pruning statement deletes (`DEFAULT_PRUNE_BATCH`). */
  pruneBatch?: number
}

/**
 * The log's epoch. A new one when the database's files are not those it was last opened in (`Db.files`): a folder
 * restored from a backup, or copied, or a PostgreSQL standby promoted after it lagged, holds a log that went back
 * (or forked), so an offset a client kept may name another event in it; with another epoch every such client is told
 * of a gap and refetches, once. A database that has no record of its files yet keeps its epoch (nothing says it
 * moved).
 */
async function epochOf(db: Db): Promise<Taken> {
  return db.transaction(async (tx) => {
    // Read once: it may change under this transaction (another connection of the pool reaching a new timeline).
    const now = db.files
    const rows = await tx.query<{ key: string; value: string }>(
      `select key, value from settings where key in ('event_epoch', 'event_epoch_files') for update`,
    )
    const setting = new Map(rows.map((row) => [row.key, row.value]))
    const epoch = setting.get('event_epoch')
    if (epoch === undefined) throw new Error('event log: no epoch (migrations not applied?)')
    const files = setting.get('event_epoch_files')
    if (now === undefined || files === now) return { epoch, files: now }
    const next = files === undefined ? epoch : randomBytes(16).toString('hex')
    await tx.query(
      `insert into settings (key, value) values ('event_epoch', $1), ('event_epoch_files', $2)
       on conflict (key) do update set value = excluded.value`,
      [next, now],
    )
    return { epoch: next, files: now }
  })
}

/**
 * The oldest instant the retention keeps, as the database takes it; null when it reaches back before year 1 (a
 * retention meant as "keep everything"): nothing is that old, so nothing is pruned and every event is fresh.
 */
function oldestKept(now: number, retentionSeconds: number): string | null {
  const oldest = now - retentionSeconds * 1000
  return oldest >= FIRST_DATE_MS ? new Date(oldest).toISOString() : null
}

/** An epoch and the `Db.files` it was taken for. */
interface Taken {
  epoch: string
  files: string | undefined
}

/**
 * Reads a user's log for a resuming client, and prunes it.
 *
 * @example const log = await EventLog.open(db); const result = await log.resume(userId, 41, epoch)
 */
export class EventLog {
  readonly maxReplay: number
  readonly retentionSeconds: number
  private readonly now: () => number
  private readonly pruneBatch: number
  private renewing: Promise<void> | undefined

  private constructor(
    private readonly db: Db,
    private taken: Taken,
    options: EventLogOptions,
  ) {
    this.maxReplay = options.maxReplay ?? DEFAULT_MAX_REPLAY
    this.retentionSeconds = options.retentionSeconds ?? DEFAULT_EVENT_RETENTION_SECONDS
    this.now = options.now ?? Date.now
    this.pruneBatch = options.pruneBatch ?? DEFAULT_PRUNE_BATCH
  }

  static async open(db: Db, options: EventLogOptions = {}): Promise<EventLog> {
    return new EventLog(db, await epochOf(db), options)
  }

  /** This database's log; clients holding offsets of another are told of a gap. */
  get epoch(): string {
    return this.taken.epoch
  }

  /**
   * Takes the epoch again when the database's files are no longer those it was taken for (`Db.onFilesChange`: a
   * failover under this running process). Calls at once share one run. The first node to run it writes the new epoch;
   * the others, serialised on the settings row, find it written for those files and adopt it.
   */
  renew(): Promise<void> {
    // Cleared in a `finally` callback, which runs after this assignment even when there is nothing to renew.
    this.renewing ??= (async () => {
      while (this.db.files !== this.taken.files) this.taken = await epochOf(this.db)
    })().finally(() => {
      this.renewing = undefined
    })
    return this.renewing
  }

  /** Each user's current offset (the last event in their log; users without one are left out). */
  async heads(userIds: readonly Id[]): Promise<Map<Id, number>> {
    if (userIds.length === 0) return new Map()
    const rows = await this.db.query<{ id: Id; event_offset: string | number }>(
      'select id, event_offset from users where id = any($1::text[])',
      [userIds],
    )
    return new Map(rows.map((row) => [row.id, Number(row.event_offset)]))
  }

  /**
   * Every event of `userId` after `offset`, in order, when all of them can be had (same epoch, none older than the
   * retention, at most `maxReplay`); else a gap at the current offset. Without an offset: the current one, no events.
   * An offset without its epoch is a gap too: nothing tells that it counts in this log (one kept from before a
   * database reset names other events here), and a gap costs one refetch where a wrong replay loses events for good.
   * One statement, so the current offset and the events come from one snapshot.
   */
  async resume(userId: Id, offset: number | undefined, epoch: string | undefined): Promise<ResumeResult> {
    const from = offset ?? Number.MAX_SAFE_INTEGER
    const oldest = oldestKept(this.now(), this.retentionSeconds)
    const rows = await this.db.query<{
      current: string | number
      offset: string | number | null
      event: ServerEventName | null
      payload: unknown
      fresh: boolean | null
    }>(
      `select u.event_offset as current, e."offset", e.event, e.payload, e.created_at >= $4::timestamptz as fresh
       from users u left join lateral (
         select "offset", event, payload, created_at from user_events
         where user_id = u.id and "offset" > $2::bigint order by "offset" limit $3::bigint
       ) e on true
       where u.id = $1::text order by e."offset"`,
      [userId, from, this.maxReplay + 1, oldest],
    )
    // Rows read on a connection to another timeline than the epoch's come after `files` changed (checked at connect):
    // compared with the old epoch, offsets the client holds from the old timeline would pass for this one's.
    if (this.db.files !== this.taken.files) await this.renew()
    const current = Number(rows[0]?.current ?? 0)
    if (offset === undefined) return { kind: 'replay', events: [], offset: current, epoch: this.epoch }
    const events = rows.flatMap((row) =>
      row.offset === null || row.event === null
        ? []
        : [{ userId, offset: Number(row.offset), event: row.event, payload: row.payload }],
    )
    const complete =
      epoch === this.epoch &&
      offset <= current &&
      events.length === current - offset &&
      events.length <= this.maxReplay &&
      (events[0]?.offset ?? offset + 1) === offset + 1 &&
      rows.every((row) => row.fresh !== false)
    return complete
      ? { kind: 'replay', events, offset: current, epoch: this.epoch }
      : { kind: 'gap', offset: current, epoch: this.epoch }
  }

  /** Deletes the events older than the retention, `pruneBatch` at a time; answers how many. */
  async prune(): Promise<number> {
    const oldest = oldestKept(this.now(), this.retentionSeconds)
    let total = 0
    for (;;) {
      const [row] = await this.db.query<{ n: string | number }>(
        `with gone as (
           delete from user_events where ctid in (
             select ctid from user_events where created_at < $1::timestamptz limit $2
           ) returning 1
         )
         select count(*) as n from gone`,
        [oldest, this.pruneBatch],
      )
      const deleted = Number(row?.n ?? 0)
      total += deleted
      if (deleted < this.pruneBatch) return total
    }
  }
}
