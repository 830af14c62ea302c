import { isIP } from 'node:net'
import type { PasswordHasher } from '../passwords'
import type { Db, Queryable } from './types'

/** The contract's demo accounts. Stable ids make logs and debugging readable. */
export const DEMO_PASSWORD = 'talemy'
export const DEMO_USERS = [
  { id: 'user-alice', email: 'alice@talemy.test', name: 'Alice Martin', role: 'student' },
  { id: 'user-bob', email: 'bob@talemy.test', name: 'Bob Okafor', role: 'tutor' },
  { id: 'user-carol', email: 'carol@talemy.test', name: 'Carol Lindqvist', role: 'tutor' },
] as const

const HOUR = 3600_000
const DAY = 24 * HOUR

export interface SeedDecision {
  /** `startServer`'s `seedDemo` (or `SEED_DEMO`), when given. */
  seedDemo: boolean | undefined
  databaseUrl: string | undefined
  host: string
}

/**
 * Whether to seed the demo accounts (known password!): as asked, else only for the embedded database on a loopback
 * host, that is a developer's machine. A deployment on PostgreSQL or on a public interface gets none unless it asks.
 *
 * @example shouldSeedDemo({ seedDemo: undefined, databaseUrl: undefined, host: '127.0.0.1' }) // true
 */
export function shouldSeedDemo({ seedDemo, databaseUrl, host }: SeedDecision): boolean {
  if (seedDemo !== undefined) return seedDemo
  return !databaseUrl && isLoopbackHost(host)
}

/**
 * `localhost`, 127.0.0.0/8 and ::1 (bracketed or not, with an IPv6 zone or not: `::1%lo` is loopback, the zone names
 * the interface, not the address); `0.0.0.0` and `::` listen on every interface, so they are not.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = withoutZone(
    host
      .trim()
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1'),
  )
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare)
  return false
}

/**
 * An IPv6 address without its zone (`::1%lo` → `::1`): the zone names the interface the address is reached through,
 * and no URL or address check takes one. Anything else as it is.
 */
export function withoutZone(host: string): string {
  return host.replace(/^([\da-f:.]*:[\da-f:.]*)%.*$/i, '$1')
}

/** The demo accounts' emails whose password is still `DEMO_PASSWORD`. */
export async function demoAccountsOpen(db: Queryable, passwords: PasswordHasher): Promise<string[]> {
  const rows = await db.query<{ email: string; password_hash: string }>(
    'select email, password_hash from users where email = any($1::text[]) order by email',
    [DEMO_USERS.map((user) => user.email)],
  )
  const open = await Promise.all(rows.map(async (row) => (await passwords.verify(DEMO_PASSWORD, row.password_hash)).ok))
  return rows.filter((_, i) => open[i]).map((row) => row.email)
}

/**
 * Seeds the demo data once (recorded in `settings`, so deleting rows later does not re-seed). The claim and the rows
 * are one transaction, so a second call, or a second node starting at the same moment, finds the claim taken (it
 * waits on the first one's row lock) and seeds nothing. Returns whether it seeded.
 */
export async function seedIfNew(db: Db, passwords: PasswordHasher, now = new Date()): Promise<boolean> {
  // Every start comes here: skip the password hash (a deliberately slow KDF) when the demo data is already there.
  if ((await db.query(`select 1 from settings where key = 'seeded_at'`)).length > 0) return false
  const passwordHash = await passwords.hash(DEMO_PASSWORD)
  return db.transaction(async (tx) => {
    const claimed = await tx.query(
      `insert into settings (key, value) values ('seeded_at', $1) on conflict (key) do nothing returning key`,
      [now.toISOString()],
    )
    if (claimed.length === 0) return false
    await seedDemoData(tx, passwordHash, now)
    return true
  })
}

async function seedDemoData(tx: Queryable, passwordHash: string, now: Date): Promise<void> {
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString()
  for (const user of DEMO_USERS) {
    await tx.query(
      `insert into users (id, email, name, role, password_hash, created_at) values ($1, $2, $3, $4, $5, $6)`,
      [user.id, user.email, user.name, user.role, passwordHash, at(-30 * DAY)],
    )
  }

  const conversations: {
    id: string
    a: string
    b: string
    messages: [string, string][]
    readBy: Record<string, number>
  }[] = [
    {
      id: 'conv-alice-bob',
      a: 'user-alice',
      b: 'user-bob',
      messages: [
        ['user-alice', 'Hi Bob! Could you help me get ready for my calculus exam?'],
        ['user-bob', 'Of course. Which topics worry you most?'],
        ['user-alice', 'Integration by parts, mostly.'],
        ['user-bob', 'Great, let us start there on Thursday. Bring a few exercises you found hard.'],
      ],
      // Alice has not read Bob's last message yet.
      readBy: { 'user-alice': 3, 'user-bob': 4 },
    },
    {
      id: 'conv-alice-carol',
      a: 'user-alice',
      b: 'user-carol',
      messages: [
        ['user-carol', 'Hola Alice, thanks for your request. When would you like to start?'],
        ['user-alice', 'Next week would be perfect, gracias!'],
      ],
      readBy: { 'user-alice': 2, 'user-carol': 2 },
    },
  ]
  let minute = 0
  for (const conversation of conversations) {
    const count = conversation.messages.length
    const pairKey = [conversation.a, conversation.b].sort().join(':')
    const firstAt = -2 * DAY + minute * 60_000
    await tx.query(
      `insert into conversations (id, pair_key, last_seq, created_at, updated_at) values ($1, $2, $3, $4, $5)`,
      [conversation.id, pairKey, count, at(firstAt), at(firstAt + (count - 1) * 5 * 60_000)],
    )
    for (const userId of [conversation.a, conversation.b]) {
      await tx.query(`insert into conversation_members (conversation_id, user_id, last_read_seq) values ($1, $2, $3)`, [
        conversation.id,
        userId,
        conversation.readBy[userId] ?? 0,
      ])
    }
    for (const [index, [senderId, content]] of conversation.messages.entries()) {
      await tx.query(
        `insert into messages (id, conversation_id, seq, sender_id, content, client_id, created_at)
         values ($1, $2, $3, $4, $5, null, $6)`,
        [
          `${conversation.id}-m${index + 1}`,
          conversation.id,
          index + 1,
          senderId,
          content,
          at(firstAt + index * 5 * 60_000),
        ],
      )
    }
    minute += 90
  }

  // On the hour of a day counted from today's (UTC): "now" plus an offset put a lesson at 02:57:34.
  const today = now.getTime() - (now.getTime() % DAY)
  const onDay = (days: number, hour: number) => new Date(today + days * DAY + hour * HOUR).toISOString()
  const lessons = [
    ['lesson-1', 'user-bob', 'user-alice', 'Calculus: integration by parts', onDay(2, 16), 60, 'confirmed'],
    ['lesson-2', 'user-carol', 'user-alice', 'Spanish conversation', onDay(5, 10), 45, 'pending'],
    ['lesson-3', 'user-bob', 'user-alice', 'Calculus: limits review', onDay(-7, 15), 60, 'completed'],
  ] as const
  for (const [id, tutorId, studentId, subject, startsAt, duration, status] of lessons) {
    await tx.query(
      `insert into lessons (id, tutor_id, student_id, subject, starts_at, duration_minutes, status, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
      [id, tutorId, studentId, subject, startsAt, duration, status, at(-10 * DAY)],
    )
  }

  const requests = [
    ['contact-1', 'user-alice', 'user-bob', 'Hello! I need help with calculus before my exam.', 'accepted'],
    ['contact-2', 'user-alice', 'user-carol', 'Hi Carol, I would like to practise conversational Spanish.', 'pending'],
  ] as const
  for (const [id, studentId, tutorId, message, status] of requests) {
    await tx.query(
      `insert into contact_requests (id, student_id, tutor_id, message, status, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $6)`,
      [id, studentId, tutorId, message, status, at(-3 * DAY)],
    )
  }
}
