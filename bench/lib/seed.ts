/**
 * Bench-only seeding for P7: the reference server seeds three demo users; P7 needs 1,000. The server has no API to
 * create users, so this writes them with the server's own database module (`server/db`: same migrations, same
 * tables) before the server starts, and starts their sessions with the server's `SessionStore` and the same secret the
 * server is given. Nothing here is used by the server itself.
 */
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { openDatabase } from '../../server/db'
import { TokenService } from '../../server/auth'
import { PasswordHasher } from '../../server/passwords'
import { SessionStore } from '../../server/sessions'
import type { SeededPair } from './hostProtocol'

/** Where to seed: an embedded data folder (one node, P7 and others) or a PostgreSQL shared by nodes (P8, P9). */
export type SeedTarget = { dataDir: string } | { databaseUrl: string }

export async function seedPairs(
  target: SeedTarget,
  pairs: number,
  jwtSecret: string,
  prefix = 'bench',
): Promise<SeededPair[]> {
  const db = await openDatabase(
    'databaseUrl' in target ? { databaseUrl: target.databaseUrl, dataDir: tmpdir() } : target,
  )
  const key = new TextEncoder().encode(jwtSecret)
  const day = 24 * 3600
  const sessions = new SessionStore(db, new TokenService(key, { ttlSeconds: day }), key, {
    idleSeconds: day,
    maxSeconds: day,
  })
  const passwordHash = await new PasswordHasher().hash('talemy')
  const createdAt = new Date().toISOString()
  const result: SeededPair[] = []
  try {
    await db.transaction(async (tx) => {
      for (let i = 0; i < pairs; i++) {
        const a = `${prefix}-user-${2 * i}`
        const b = `${prefix}-user-${2 * i + 1}`
        for (const [id, role] of [
          [a, 'student'],
          [b, 'tutor'],
        ] as const) {
          await tx.query(
            `insert into users (id, email, name, role, password_hash, created_at) values ($1, $2, $3, $4, $5, $6)
             on conflict (id) do nothing`,
            [id, `${id}@bench.talemy.test`, id, role, passwordHash, createdAt],
          )
        }
        const conversationId = `${prefix}-conv-${i}-${randomUUID().slice(0, 8)}`
        await tx.query(
          `insert into conversations (id, pair_key, last_seq, created_at, updated_at) values ($1, $2, 0, $3, $3)
           on conflict (pair_key) do nothing`,
          [conversationId, [a, b].sort().join(':'), createdAt],
        )
        const [conversation] = await tx.query<{ id: string }>(`select id from conversations where pair_key = $1`, [
          [a, b].sort().join(':'),
        ])
        for (const userId of [a, b]) {
          await tx.query(
            `insert into conversation_members (conversation_id, user_id, last_read_seq) values ($1, $2, 0) on conflict do nothing`,
            [conversation!.id, userId],
          )
        }
        result.push({
          conversationId: conversation!.id,
          a: { id: a, token: '' },
          b: { id: b, token: '' },
        })
      }
    })
    // After the users are committed (a session references its user).
    for (const pair of result) {
      pair.a.token = (await sessions.start(pair.a.id)).token
      pair.b.token = (await sessions.start(pair.b.id)).token
    }
  } finally {
    await db.close()
  }
  return result
}
