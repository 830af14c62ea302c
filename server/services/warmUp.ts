import { randomUUID } from 'node:crypto'
import type { Db } from '../db'
import { SEND_MESSAGE } from './messaging'

/** How many sends the warm-up runs: past PostgreSQL's five custom plans of a prepared statement, and a few more. */
export const WARM_UP_SENDS = 12

const ROLL_BACK = Symbol('roll back')

/**
 * Runs the send statement between two throwaway users, in one transaction that is always rolled back: nothing of it
 * is kept. On the embedded database a send's first run after a start costs about 150 ms (its catalogs read, its plan
 * made, each index and constraint opened for the first time), and those of the first second about twice the rest.
 * After a restart, a crash's included, the users come back and send at once, and every message of that second would
 * queue behind those costs; run before the server listens, they are paid before anyone waits. Answers how long it
 * took.
 *
 * @example const ms = await warmUpSends(db, new Date())
 */
export async function warmUpSends(db: Pick<Db, 'transaction'>, now: Date): Promise<number> {
  const started = performance.now()
  const at = now.toISOString()
  const tag = `talemy-warm-up-${randomUUID()}`
  const [a, b, conversation] = [`${tag}-a`, `${tag}-b`, `${tag}-conversation`]
  await db
    .transaction(async (tx) => {
      for (const id of [a, b])
        await tx.query(
          `insert into users (id, email, name, role, password_hash, created_at)
           values ($1, $1 || '@warm-up.invalid', 'warm-up', 'student', '-', $2)`,
          [id, at],
        )
      await tx.query(
        `insert into conversations (id, pair_key, last_seq, created_at, updated_at) values ($1, $2, 0, $3, $3)`,
        [conversation, `${a}:${b}`, at],
      )
      for (const id of [a, b])
        await tx.query('insert into conversation_members (conversation_id, user_id) values ($1, $2)', [
          conversation,
          id,
        ])
      // Half of them with the other one looking (the read marks and receipts of the statement), as sends come.
      for (let i = 0; i < WARM_UP_SENDS; i++)
        await tx.execute(SEND_MESSAGE, [
          randomUUID(),
          conversation,
          i % 2 === 0 ? a : b,
          'warm-up',
          randomUUID(),
          at,
          i % 4 < 2 ? [] : [i % 2 === 0 ? b : a],
          [a, b],
          at,
        ])
      throw ROLL_BACK
    })
    .catch((error: unknown) => {
      if (error !== ROLL_BACK) throw error
    })
  return performance.now() - started
}
