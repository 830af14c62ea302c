import { loginBodySchema, parse, type Id, type User } from '../../src/contract'
import { dummyPasswordHash, verifyPassword } from '../auth'
import { AppError, invalid, notFound, unauthorized } from '../errors'
import type { ServiceContext } from './context'
import { toUser, type UserRow } from './rows'

export interface Session {
  token: string
  user: User
}

export function createAccounts({ db, tokens }: ServiceContext) {
  async function findUser(id: Id): Promise<User | undefined> {
    const rows = await db.query<UserRow>('select id, name, role from users where id = $1', [id])
    return rows[0] ? toUser(rows[0]) : undefined
  }

  return {
    findUser,

    async login(body: unknown): Promise<Session> {
      const input = parse(loginBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      const rows = await db.query<UserRow & { password_hash: string }>(
        'select id, name, role, password_hash from users where lower(email) = lower($1)',
        [input.value.email.trim()],
      )
      const row = rows[0]
      const matches = await verifyPassword(input.value.password, row?.password_hash ?? (await dummyPasswordHash()))
      if (!row || !matches) throw new AppError('UNAUTHORIZED', 'wrong email or password')
      return { token: await tokens.issue(row.id), user: toUser(row) }
    },

    /** A new token for the holder of a valid token, or of one expired within the grace period. */
    async refresh(token: string | undefined): Promise<Session> {
      const userId = await tokens.verifyForRefresh(token)
      const user = await findUser(userId)
      if (!user) throw unauthorized('unknown user')
      return { token: await tokens.issue(user.id), user }
    },

    async me(userId: Id): Promise<User> {
      const user = await findUser(userId)
      if (!user) throw notFound('user')
      return user
    },

    /** Everyone the user can write to or book: all other users, tutors first. */
    async listUsers(userId: Id): Promise<User[]> {
      const rows = await db.query<UserRow>(
        `select id, name, role from users where id <> $1 order by case role when 'tutor' then 0 else 1 end, name, id`,
        [userId],
      )
      return rows.map(toUser)
    },
  }
}

export type Accounts = ReturnType<typeof createAccounts>
