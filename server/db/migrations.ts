import type { Db } from './types'

/**
 * Ordered, append-only. Each runs once in its own transaction, recorded in `schema_migrations`;
 * an advisory lock keeps two servers sharing one PostgreSQL from migrating at the same time.
 */
export const MIGRATIONS: readonly string[] = [
  `
  create table settings (
    key text primary key,
    value text not null
  );
  create table users (
    id text primary key,
    email text not null unique,
    name text not null,
    role text not null check (role in ('student', 'tutor')),
    password_hash text not null,
    created_at timestamptz not null
  );
  create table conversations (
    id text primary key,
    -- the two participants' ids, sorted and joined: one conversation per pair, race-safe through the constraint
    pair_key text not null unique,
    last_seq integer not null default 0,
    created_at timestamptz not null,
    updated_at timestamptz not null
  );
  create table conversation_members (
    conversation_id text not null references conversations(id),
    user_id text not null references users(id),
    last_read_seq integer not null default 0,
    primary key (conversation_id, user_id)
  );
  create index conversation_members_user on conversation_members (user_id);
  create table messages (
    id text primary key,
    conversation_id text not null references conversations(id),
    seq integer not null,
    sender_id text not null references users(id),
    content text not null,
    client_id text,
    created_at timestamptz not null,
    unique (conversation_id, seq),
    unique (sender_id, client_id)
  );
  create table lessons (
    id text primary key,
    tutor_id text not null references users(id),
    student_id text not null references users(id),
    subject text not null,
    starts_at timestamptz not null,
    duration_minutes integer not null,
    status text not null check (status in ('pending', 'confirmed', 'cancelled', 'completed')),
    created_at timestamptz not null,
    updated_at timestamptz not null
  );
  create index lessons_tutor on lessons (tutor_id);
  create index lessons_student on lessons (student_id);
  create table contact_requests (
    id text primary key,
    student_id text not null references users(id),
    tutor_id text not null references users(id),
    message text not null,
    status text not null check (status in ('pending', 'accepted', 'declined')),
    created_at timestamptz not null,
    updated_at timestamptz not null
  );
  create index contact_requests_tutor on contact_requests (tutor_id);
  create index contact_requests_student on contact_requests (student_id);
  `,
  // Sessions: one per login; refresh tokens stored only as hashes, the rotated ones kept to recognise a replay.
  `
  create table sessions (
    id text primary key,
    user_id text not null references users(id),
    created_at timestamptz not null,
    last_refreshed_at timestamptz not null,
    expires_at timestamptz not null,
    revoked_at timestamptz
  );
  create index sessions_user on sessions (user_id);
  create table refresh_tokens (
    hash text primary key,
    session_id text not null references sessions(id) on delete cascade,
    issued_at timestamptz not null,
    rotated_at timestamptz
  );
  create index refresh_tokens_session on refresh_tokens (session_id);
  `,
  // The per-user event log (durable resume). A user's counter is a column of their row: the row lock taken to bump it
  // orders the offsets by commit and keeps them gap-free (a rolled-back bump is undone). The epoch names this log: a
  // new database (a reset) gets a new one, and clients holding offsets of the old log are told of the gap.
  `
  alter table users add column event_offset bigint not null default 0;
  create table user_events (
    user_id text not null references users(id),
    "offset" bigint not null,
    event text not null,
    payload jsonb not null,
    created_at timestamptz not null,
    primary key (user_id, "offset")
  );
  create index user_events_created_at on user_events (created_at);
  insert into settings (key, value) values ('event_epoch', md5(random()::text || clock_timestamp()::text))
  `,
  // Presence: when each user's last socket closed (whether they are online now is live state, not stored).
  `
  alter table users add column last_seen_at timestamptz;
  `,
  // Idempotency-Key: the answer to each user's first request with a key, kept with what that request created (one
  // transaction), for its repeats. The primary key lets one request per (user, key) through whatever the timing. The
  // body is text, not jsonb: jsonb reorders an object's keys, and a repeat gets the same bytes as the first answer.
  `
  create table idempotency_keys (
    user_id text not null references users(id),
    key text not null,
    fingerprint text not null,
    status integer not null,
    body text not null,
    created_at timestamptz not null,
    primary key (user_id, key)
  );
  create index idempotency_keys_created_at on idempotency_keys (created_at);
  `,
  // Presence of the one server: the latest time it knew each user online, noted as it runs, for its next start to keep
  // as last_seen_at should it be killed before its close keeps when they went.
  `
  create table presence_seen (
    user_id text primary key references users(id),
    seen_at timestamptz not null
  );
  `,
  // The pruning of ended sessions finds them by when they ended: by their absolute end or revocation, whichever came
  // first (null-free: least() passes over a null), or by their last refresh (idle). Each its own range scan.
  `
  create index sessions_fixed_end on sessions ((least(expires_at, revoked_at)));
  create index sessions_last_refreshed_at on sessions (last_refreshed_at);
  `,
  // The login looks its user up by lower(email). Not unique: no path but the seed creates users, whose emails are
  // lower-case already, and a unique one would refuse to migrate a database where rows were added by hand.
  `
  create index users_lower_email on users (lower(email));
  `,
]

const MIGRATION_LOCK = 7_215_001
const UNBOUNDED = { unbounded: true } as const

/** Applies the `migrations` (by default ours) not applied yet, in order; resolves to how many it applied. */
export async function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): Promise<number> {
  let applied = 0
  for (const [index, sql] of migrations.entries()) {
    const version = index + 1
    // Unbounded: an index built over a big table takes as long as the table is big, and another node starting meanwhile
    // waits on the lock for as long.
    const done = await db.transaction(async (tx) => {
      // Lock first: even "create table if not exists" races between two servers starting on a new database.
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
      await tx.query(`create table if not exists schema_migrations (
        version integer primary key,
        applied_at timestamptz not null default now()
      )`)
      const rows = await tx.query('select 1 from schema_migrations where version = $1', [version])
      if (rows.length > 0) return false
      for (const statement of splitStatements(sql)) await tx.query(statement)
      await tx.query('insert into schema_migrations (version) values ($1)', [version])
      return true
    }, UNBOUNDED)
    if (done) applied++
  }
  return applied
}

/** Our migrations hold no semicolons inside literals, so a plain split is enough (extended protocol: one statement per query). */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((part) => part.replace(/--[^\n]*/g, '').trim())
    .filter((part) => part.length > 0)
}
