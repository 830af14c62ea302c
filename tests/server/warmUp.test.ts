import { describe, expect, it } from 'vitest'
import type { Queryable } from '../../server/db'
import { SEND_MESSAGE } from '../../server/services/messaging'
import { WARM_UP_SENDS, warmUpSends } from '../../server/services/warmUp'
import { capturedLog } from '../support/capturedLog'
import { freshDatabase, startTestServer } from './support/server'

// The embedded database's first sends after a start are slow; the server runs the send statement before it listens,
// in a transaction it rolls back. It must leave nothing behind: no user, conversation, message or event, and every
// user's event offset as it was (an offset taken and not rolled back would be a gap in someone's stream).

/** Everything the warm-up's statements write, counted and summed. */
async function footprint(q: Queryable): Promise<Record<string, unknown>> {
  const [row] = await q.query(
    `select (select count(*) from users)::int as users, (select count(*) from conversations)::int as conversations,
       (select count(*) from conversation_members)::int as members, (select count(*) from messages)::int as messages,
       (select count(*) from user_events)::int as events, (select coalesce(sum(event_offset), 0) from users)::text as offsets,
       (select coalesce(sum(last_seq), 0) from conversations)::text as seqs`,
  )
  return row!
}

describe('warming up the send path', () => {
  const database = freshDatabase()

  it('runs the send statement, stores each send as a send would, and keeps nothing of it', async () => {
    const before = await footprint(database.db)
    let sends = 0
    let storedInside: Record<string, unknown> = {}
    await warmUpSends(
      {
        transaction: (fn) =>
          database.db.transaction(async (tx) => {
            const counted: Queryable = {
              query: tx.query,
              execute: async (statement, params) => {
                const rows = await tx.execute(statement, params)
                if (statement.name === SEND_MESSAGE.name) {
                  sends++
                  expect(rows).toEqual([expect.objectContaining({ inserted: true, seq: sends })])
                  storedInside = await footprint(tx)
                }
                return rows as never
              },
            }
            return fn(counted)
          }),
      },
      new Date(),
    )
    expect(sends).toBe(WARM_UP_SENDS)
    expect(storedInside.messages).toBe((before.messages as number) + WARM_UP_SENDS)
    expect(await footprint(database.db)).toEqual(before)
  })

  it('is done by a server on the embedded database before it listens, and said in its log', async () => {
    const log = capturedLog('info')
    const server = await startTestServer({ logger: log.logger })
    try {
      const said = log.lines().map((line) => line.msg)
      expect(said).toContain('warmed up the send path')
      expect(said.indexOf('warmed up the send path')).toBeLessThan(said.indexOf('server listening'))
    } finally {
      await server.dispose()
    }
  })
})
