import { loginBodySchema, parse, type Id, type User } from '../../src/contract'
import { AppError, invalid, notFound, unauthorized } from '../errors'
import type { ServiceContext } from './context'
import { toUser, type UserRow } from './rows'

export interface Session {
  token: string
  user: User
}

export function createAccounts({ db, tokens, passwords, loginThrottle, logger }: ServiceContext) {
  async function findUser(id: Id): Promise<User | undefined> {
    const rows = await db.query<UserRow>('select id, name, role from users where id = $1', [id])
    return rows[0] ? toUser(rows[0]) : undefined
  }

  /** Re-hashes at the current cost (scrypt, or Argon2id at another cost); unless the hash changed meanwhile. */
  async function upgradeHash(userId: Id, previous: string, password: string): Promise<void> {
    try {
      await db.query('update users set password_hash = $3 where id = $1 and password_hash = $2', [
        userId,
        previous,
        await passwords.hash(password),
      ])
    } catch (error) {
      logger.warn({ err: error, userId }, 'password hash upgrade failed; the old hash keeps working')
    }
  }

  return {
    findUser,

    /**
     * Checks the password, throttled per email, per email and address, and per address (`clientAddress`: the
     * socket's, or the proxy's client when `trustProxy` is set). Over a limit it answers RATE_LIMITED before hashing.
     */
    async login(body: unknown, clientAddress = 'unknown'): Promise<Session> {
      const input = parse(loginBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      const { email, password } = input.value
      const row = await loginThrottle.run({ email, address: clientAddress }, async () => {
        const rows = await db.query<UserRow & { password_hash: string }>(
          'select id, name, role, password_hash from users where lower(email) = lower($1)',
          [email.trim()],
        )
        const found = rows[0]
        if (!found) {
          await passwords.verifyDummy(password)
          return { exists: false, user: undefined }
        }
        const check = await passwords.verify(password, found.password_hash)
        if (check.ok && check.needsRehash) await upgradeHash(found.id, found.password_hash, password)
        return { exists: true, user: check.ok ? found : undefined }
      })
      if (!row) throw new AppError('UNAUTHORIZED', 'wrong email or password')
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
