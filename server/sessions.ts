import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import type { Id } from '../src/contract'
import type { AccessClaims, TokenService } from './auth'
import type { Db, Queryable } from './db'
import { FIRST_DATE_MS, LAST_DATE_MS } from './db/dateRange'
import { unauthorized } from './errors'

export const DEFAULT_REFRESH_IDLE_SECONDS = 7 * 24 * 3600
export const DEFAULT_SESSION_MAX_SECONDS = 30 * 24 * 3600
/** With several nodes: how long a session seen live is trusted before it is read again (a missed revocation's bound). */
export const DEFAULT_SESSION_RECHECK_MS = 5_000
/** How long a rotated refresh token still answers with the pair it was rotated to (two tabs, a lost response). */
export const REFRESH_REUSE_WINDOW_SECONDS = 30

/**
 * How long an ended session (revoked, idle or past its absolute end) and its refresh tokens are kept before the
 * pruning deletes them. The theft check needs a session's rotated tokens only while the session is live (they are
 * kept for its whole life): once it has ended, every token of it is refused, there or not. A day covers the 30 s
 * reuse window, an access token's life and the clocks of several nodes many times over, and leaves a theft's
 * revocation to be looked at.
 */
export const ENDED_SESSION_KEPT_SECONDS = 24 * 3600

/** Most sessions, and most refresh tokens, one pruning statement deletes (bounded for the statement timeout). */
const PRUNE_BATCH = 1_000

export interface SessionPruneOptions {
  /** The clock's now, in ms. */
  now: number
  /** The policy's `idleSeconds`: a session not refreshed for that long has ended. */
  idleSeconds: number
  batch?: number
  /** Stops between statements (the server's close). */
  signal?: AbortSignal
}

/**
 * Deletes the sessions that ended more than `ENDED_SESSION_KEPT_SECONDS` ago, with their refresh tokens, a bounded
 * batch at a time; answers how many sessions. Live sessions, and every token they rotated, are never touched. Several
 * nodes may run it at once: each skips the rows another holds (as a refresh does), and a row gone is deleted once.
 */
export async function pruneEndedSessions(db: Db, options: SessionPruneOptions): Promise<number> {
  const batch = options.batch ?? PRUNE_BATCH
  const cutoff = options.now - ENDED_SESSION_KEPT_SECONDS * 1000
  const idleCutoff = cutoff - options.idleSeconds * 1000
  // One condition per index (a range scan that stops at the batch); an OR of them would read every match each time.
  const ended = [
    cutoff >= FIRST_DATE_MS && { where: 'least(expires_at, revoked_at) < $1::timestamptz', before: cutoff },
    // An idle lifetime meant as "for ever" ends no session.
    idleCutoff >= FIRST_DATE_MS && { where: 'last_refreshed_at < $1::timestamptz', before: idleCutoff },
  ].filter((found) => found !== false)
  let total = 0
  for (const { where, before } of ended) {
    const at = new Date(before).toISOString()
    for (;;) {
      if (options.signal?.aborted) return total
      const rows = await db.query<{ id: string }>(
        `select id from sessions where ${where} limit $2 for update skip locked`,
        [at, batch],
      )
      if (rows.length === 0) break
      const ids = rows.map((row) => row.id)
      // Their tokens first, a batch at a time: a session refreshed for a month has thousands. Locks no session row,
      // so it never waits in the opposite order of a refresh (which locks the session, then its token).
      for (;;) {
        if (options.signal?.aborted) return total
        const [gone] = await db.query<{ n: string | number }>(
          `with gone as (
             delete from refresh_tokens where hash in (
               select hash from refresh_tokens where session_id = any($1::text[]) limit $2 for update skip locked
             ) returning 1
           )
           select count(*) as n from gone`,
          [ids, batch],
        )
        if (Number(gone?.n ?? 0) < batch) break
      }
      // Checked again: nothing brings an ended session back, but another node may have deleted it meanwhile. A
      // token left (held by a refresh, being refused) goes with its session (on delete cascade).
      const [gone] = await db.query<{ n: string | number }>(
        `with gone as (
           delete from sessions where id in (
             select id from sessions where id = any($2::text[]) and ${where} for update skip locked
           ) returning 1
         )
         select count(*) as n from gone`,
        [at, ids],
      )
      const deleted = Number(gone?.n ?? 0)
      total += deleted
      // Fewer than asked for: none left. None deleted: the rest are held elsewhere, for the next round.
      if (rows.length < batch || deleted === 0) break
    }
  }
  return total
}

/** What a login or a refresh hands out. */
export interface IssuedPair {
  userId: Id
  sessionId: string
  token: string
  refreshToken: string
  /**
   * Whole seconds between the token's `iat` and the server's now at the answer: 0 for a fresh pair, up to the reuse
   * window for one answered again (issued at the first rotation). Its answer says it (`Age`), or the browser would take
   * that `iat` for the server's now and judge the server's clock up to 30 s behind: every refresh scheduled that late.
   */
  ageSeconds: number
}

export interface SessionPolicy {
  /** A session ends this long after its last refresh. */
  idleSeconds: number
  /** A session ends this long after its login, whatever happens. */
  maxSeconds: number
  /**
   * How long a session seen live is trusted without reading the database again, in ms. Unset: until this process
   * learns otherwise, which is right for one node (every revocation passes through it). Several nodes learn of each
   * other's revocations by a broadcast a node can miss (its Redis connection dropping), so they bound it.
   */
  recheckLiveMs?: number
}

/** What tells whether a session has ended. */
interface SessionEnds {
  revoked_at: Date | null
  expires_at: Date
  last_refreshed_at: Date
}

interface SessionRow {
  session_id: string
  user_id: string
  created_at: Date
  last_refreshed_at: Date
  expires_at: Date
  revoked_at: Date | null
  rotated_at: Date | null
}

/** What the per-request check remembers of a session: the database stays the truth. */
interface KnownSession {
  revoked: boolean
  /** When it ends unless refreshed: its idle end (`refreshIdleSeconds` after its last refresh) or its absolute end. */
  expiresAt: number
  /** When it was learnt (`performance.now()`: its age, whatever the injected clock says). */
  learntAt: number
  /** When it was learnt, by the injected clock: learnt before its idle end, it may have been refreshed since elsewhere. */
  seenAt: number
}

const MAX_KNOWN_SESSIONS = 50_000

/** SHA-256: enough for a 256-bit random token (nothing to brute-force), and cheap enough for every refresh. */
const hashOf = (refreshToken: string): string => createHash('sha256').update(refreshToken).digest('base64url')

const ms = (value: Date | string | number): number => new Date(value).getTime()

/**
 * Sessions: one per login, in the `sessions` table, with one live refresh token (stored as a hash) and the hashes of
 * the tokens it replaced. A refresh rotates the token; the next token is derived from the presented one with a server
 * key (HMAC), and the access token is signed over the rotation's time, so a rotated token presented again within
 * `REFRESH_REUSE_WINDOW_SECONDS` re-derives exactly the pair it got the first time without anything secret being
 * stored. Presented later, it is taken for a stolen copy and the whole session is revoked.
 *
 * @example const pair = await sessions.start('user-alice'); const next = await sessions.refresh(pair.refreshToken)
 */
export class SessionStore {
  private readonly known = new Map<string, KnownSession>()
  private readonly revokedListeners = new Set<(sessionId: string) => void>()
  private readonly rotationKey: Buffer

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenService,
    signingKey: Uint8Array,
    private readonly policy: SessionPolicy,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own for the derivation, so no HMAC output ever equals a JWT signature.
    this.rotationKey = createHmac('sha256', signingKey).update('talemy refresh-token rotation v1').digest()
  }

  /** A new session for `userId` (a successful login): a fresh access token and a random 256-bit refresh token. */
  async start(userId: Id): Promise<IssuedPair> {
    const now = this.now()
    const sessionId = randomUUID()
    const refreshToken = randomBytes(32).toString('base64url')
    // A lifetime meant as "for ever" ends at the last date the database takes, not past it (every login a 500).
    const expiresAt = Math.min(now + this.policy.maxSeconds * 1000, LAST_DATE_MS)
    await this.db.transaction(async (tx) => {
      await tx.query(
        `insert into sessions (id, user_id, created_at, last_refreshed_at, expires_at) values ($1, $2, $3, $3, $4)`,
        [sessionId, userId, new Date(now), new Date(expiresAt)],
      )
      await tx.query(`insert into refresh_tokens (hash, session_id, issued_at) values ($1, $2, $3)`, [
        hashOf(refreshToken),
        sessionId,
        new Date(now),
      ])
    })
    this.remember(sessionId, { revoked: false, expiresAt: this.endOf(expiresAt, now) })
    return {
      userId,
      sessionId,
      refreshToken,
      token: await this.tokens.issue(userId, sessionId, now, this.endOf(expiresAt, now), this.tokenId(refreshToken)),
      ageSeconds: 0,
    }
  }

  /**
   * Rotates `refreshToken`: the next pair. A token rotated less than 30 s ago answers with the same pair again; one
   * rotated earlier revokes its session (theft). Unknown, revoked, idle or too old: UNAUTHORIZED.
   */
  async refresh(refreshToken: unknown): Promise<IssuedPair> {
    if (typeof refreshToken !== 'string' || refreshToken.length === 0 || refreshToken.length > 1000)
      throw unauthorized('invalid refresh token')
    const hash = hashOf(refreshToken)
    const outcome = await this.db.transaction(async (tx) => {
      const row = await this.lockSession(tx, hash)
      if (!row) return { refused: 'invalid refresh token' } as const
      if (row.revoked_at) return { refused: 'session ended' } as const
      const now = this.now()
      const idleEnd = ms(row.last_refreshed_at) + this.policy.idleSeconds * 1000
      if (now >= ms(row.expires_at) || now >= idleEnd) {
        await this.markRevoked(tx, row.session_id, now)
        return { refused: 'session expired', revoked: row.session_id } as const
      }
      if (row.rotated_at) {
        if (now - ms(row.rotated_at) <= REFRESH_REUSE_WINDOW_SECONDS * 1000)
          return { row, issuedAt: ms(row.rotated_at), refreshedAt: ms(row.last_refreshed_at), now } as const
        await this.markRevoked(tx, row.session_id, now)
        return { refused: 'refresh token reused', revoked: row.session_id } as const
      }
      await tx.query(`update refresh_tokens set rotated_at = $2 where hash = $1`, [hash, new Date(now)])
      await tx.query(`insert into refresh_tokens (hash, session_id, issued_at) values ($1, $2, $3)`, [
        hashOf(this.successor(refreshToken)),
        row.session_id,
        new Date(now),
      ])
      await tx.query(`update sessions set last_refreshed_at = $2 where id = $1`, [row.session_id, new Date(now)])
      return { row, issuedAt: now, refreshedAt: now, now } as const
    })
    if ('refused' in outcome) {
      if (outcome.revoked) this.revoked(outcome.revoked)
      throw unauthorized(outcome.refused)
    }
    const { row, issuedAt, refreshedAt, now } = outcome
    this.remember(row.session_id, { revoked: false, expiresAt: this.endOf(ms(row.expires_at), refreshedAt) })
    const next = this.successor(refreshToken)
    return {
      userId: row.user_id,
      sessionId: row.session_id,
      refreshToken: next,
      token: await this.tokens.issue(
        row.user_id,
        row.session_id,
        issuedAt,
        this.endOf(ms(row.expires_at), issuedAt),
        this.tokenId(next),
      ),
      ageSeconds: Math.floor(now / 1000) - Math.floor(issuedAt / 1000),
    }
  }

  /**
   * When a session refreshed (or started) at `refreshedAt` ends unless refreshed again: its idle end, or its absolute
   * end if sooner. No access token outlives it, so an idle session's tokens stop with it, refreshed or not.
   */
  private endOf(expiresAt: number, refreshedAt: number): number {
    return Math.min(expiresAt, refreshedAt + this.policy.idleSeconds * 1000)
  }

  /**
   * The claims of an access token whose session is still live; UNAUTHORIZED otherwise. One database read per session
   * per process, then memory: a revocation here updates memory at once.
   */
  async authenticate(token: unknown): Promise<AccessClaims> {
    const claims = await this.tokens.verify(token)
    if (!(await this.isLive(claims.sessionId))) throw unauthorized('session ended')
    return claims
  }

  /**
   * Whose an access token is (user and session), from its verified signature, expired or not and whatever became of
   * its session; undefined for a token this server did not sign. Not a credential: `authenticate` is.
   */
  async ownerOf(token: unknown): Promise<AccessClaims | undefined> {
    return this.tokens.owner(token)
  }

  /** Ends the session: its refresh tokens and access tokens are refused from now on, its sockets are told (`onRevoked`). */
  async revokeSession(sessionId: string): Promise<void> {
    // Known ended (its revocation committed, here or on another node, or read from the database): a logout by Bearer
    // spends no budget, so one repeated with the token of an ended session must cost no database write and no
    // broadcast to every node each time, only its signature check.
    if (this.known.get(sessionId)?.revoked) return
    const now = this.now()
    await this.db.transaction((tx) => this.markRevoked(tx, sessionId, now))
    this.revoked(sessionId)
  }

  /**
   * Ends the session of `token` (one this server signed, expired too) when `refreshToken` is the one issued with it
   * (its `jti` is derived from it): the pair proves the session, with no lookup of the refresh token. Whether it did.
   * Cheap as a logout by Bearer alone: two HMACs, and a write only for a session not known ended already.
   */
  async endPaired(token: unknown, refreshToken: unknown): Promise<boolean> {
    if (typeof refreshToken !== 'string' || refreshToken.length === 0 || refreshToken.length > 1000) return false
    const owner = await this.tokens.owner(token)
    if (!owner?.tokenId || owner.tokenId !== this.tokenId(refreshToken)) return false
    await this.revokeSession(owner.sessionId)
    return true
  }

  /** The session a refresh token (live or rotated) belongs to, if any. */
  async sessionOfRefreshToken(refreshToken: unknown): Promise<string | undefined> {
    if (typeof refreshToken !== 'string' || refreshToken.length === 0 || refreshToken.length > 1000) return undefined
    const rows = await this.db.query<{ session_id: string }>(`select session_id from refresh_tokens where hash = $1`, [
      hashOf(refreshToken),
    ])
    return rows[0]?.session_id
  }

  /** Called with the id of every session revoked in this process (logout, theft, expiry found at refresh). */
  onRevoked(listener: (sessionId: string) => void): () => void {
    this.revokedListeners.add(listener)
    return () => void this.revokedListeners.delete(listener)
  }

  /**
   * Another node revoked `sessionId`: forget what this process knew of it being live (its sockets there are
   * disconnected through the adapter; this closes HTTP and handshakes here too). Listeners are not told again.
   */
  noteRevokedElsewhere(sessionId: string): void {
    this.remember(sessionId, { revoked: true, expiresAt: 0 })
  }

  /** Forgets every session known to be live: the next check of each reads the database (a broadcast may have been missed). */
  forgetLive(): void {
    for (const [sessionId, session] of this.known) if (!session.revoked) this.known.delete(sessionId)
  }

  /**
   * Which of `sessionIds` have ended (revoked, or past their end), all read from the database in one query and
   * remembered: a node checks its sockets' sessions with it, for a revocation whose broadcast it never got.
   */
  async endedAmong(sessionIds: readonly string[]): Promise<string[]> {
    if (sessionIds.length === 0) return []
    const rows = await this.db.query<{ id: string } & SessionEnds>(
      `select id, revoked_at, expires_at, last_refreshed_at from sessions where id = any($1::text[])`,
      [sessionIds],
    )
    const found = new Map(rows.map((row) => [row.id, row]))
    return sessionIds.filter((sessionId) => {
      const row = found.get(sessionId)
      if (!row) return true
      const session = this.remember(sessionId, this.learntFrom(row))
      return session.revoked || this.now() >= session.expiresAt
    })
  }

  /**
   * Whether the session has neither been revoked nor reached its end: `sessionMaxSeconds` after its login, or
   * `refreshIdleSeconds` after its last refresh (a refresh past that end is refused and revokes it, so that end is final).
   */
  async isLive(sessionId: string): Promise<boolean> {
    let session = this.known.get(sessionId)
    const recheck = this.policy.recheckLiveMs
    if (session && !session.revoked && recheck !== undefined && performance.now() - session.learntAt > recheck)
      session = undefined
    // Past the end known here, when learnt before it: another node may have refreshed the session since. Read once more.
    const now = this.now()
    if (session && !session.revoked && now >= session.expiresAt && session.seenAt < session.expiresAt)
      session = undefined
    if (!session) {
      const rows = await this.db.query<SessionEnds>(
        `select revoked_at, expires_at, last_refreshed_at from sessions where id = $1`,
        [sessionId],
      )
      const row = rows[0]
      if (!row) return false
      session = this.remember(sessionId, this.learntFrom(row))
    }
    return !session.revoked && this.now() < session.expiresAt
  }

  /** What a session's row says of its end. */
  private learntFrom(row: SessionEnds): Omit<KnownSession, 'learntAt' | 'seenAt'> {
    return {
      revoked: row.revoked_at !== null,
      expiresAt: this.endOf(ms(row.expires_at), ms(row.last_refreshed_at)),
    }
  }

  /** The refresh token that follows `refreshToken`: unguessable without the server's key, the same every time. */
  private successor(refreshToken: string): string {
    return createHmac('sha256', this.rotationKey).update(refreshToken).digest('base64url')
  }

  /** The access token's `jti`, bound to the refresh token issued with it (and re-derived with it in the reuse window). */
  private tokenId(refreshToken: string): string {
    return createHmac('sha256', this.rotationKey).update(`jti:${refreshToken}`).digest('base64url').slice(0, 22)
  }

  private async lockSession(tx: Queryable, hash: string): Promise<SessionRow | undefined> {
    // Both rows locked: two refreshes with one token (two tabs) take turns, and the second sees the rotation. After
    // waiting, PostgreSQL re-reads only the rows it locks: with the session's alone, the second kept the token row it
    // read first (not yet rotated), rotated it again and failed on the successor's key. Lock order, the same
    // everywhere: the session, then its token (a revocation locks the session only; nothing locks a token alone).
    const rows = await tx.query<SessionRow>(
      `select s.id as session_id, s.user_id, s.created_at, s.last_refreshed_at, s.expires_at, s.revoked_at, t.rotated_at
         from refresh_tokens t join sessions s on s.id = t.session_id
        where t.hash = $1
          for update of s, t`,
      [hash],
    )
    return rows[0]
  }

  private async markRevoked(tx: Queryable, sessionId: string, now: number): Promise<void> {
    await tx.query(`update sessions set revoked_at = coalesce(revoked_at, $2) where id = $1`, [
      sessionId,
      new Date(now),
    ])
  }

  private revoked(sessionId: string): void {
    this.remember(sessionId, { revoked: true, expiresAt: 0 })
    for (const listener of [...this.revokedListeners]) listener(sessionId)
  }

  /** Remembers what was just learnt of `sessionId` (a revocation stays), and returns what is remembered now. */
  private remember(sessionId: string, learnt: Omit<KnownSession, 'learntAt' | 'seenAt'>): KnownSession {
    const before = this.known.get(sessionId)
    this.known.delete(sessionId)
    // A revocation is final: a database read (or a refresh) that began before it must not bring the session back.
    const session = before?.revoked ? before : { ...learnt, learntAt: performance.now(), seenAt: this.now() }
    this.known.set(sessionId, session)
    // Oldest first out: a forgotten session is read from the database again at its next use.
    if (this.known.size > MAX_KNOWN_SESSIONS) this.known.delete(this.known.keys().next().value!)
    return session
  }
}
