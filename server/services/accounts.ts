import type { Id, User } from '../../src/contract'
import { loginBodySchema, logoutBodySchema, parseRequest, refreshBodySchema } from '../../src/contract/requests'
import { AppError, invalid, notFound, unauthorized } from '../errors'
import type { ServiceContext } from './context'
import { toUser, type UserRow } from './rows'

/** What login and refresh answer: a short access token, the session's next refresh token, and who it is. */
export interface Session {
  token: string
  refreshToken: string
  user: User
}

/**
 * The form of an email the login throttles and looks up: trimmed and lower-cased by JavaScript alone.
 *
 * @example normalizeEmail(' Alice@Talemy.test ') // 'alice@talemy.test'
 */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

export function createAccounts({ db, sessions, tokens, passwords, loginThrottle, logger }: ServiceContext) {
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
      const input = parseRequest(loginBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      const { password } = input.value
      // One spelling for the throttle and the lookup: were the database to fold case differently (PostgreSQL lowers
      // 'İ' to 'i', JavaScript to 'i' + U+0307), a variant would reach the account under a fresh throttle key.
      const email = normalizeEmail(input.value.email)
      const row = await loginThrottle.run({ email, address: clientAddress }, async () => {
        const rows = await db.query<UserRow & { password_hash: string }>(
          'select id, name, role, password_hash from users where lower(email) = $1',
          [email],
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
      const { token, refreshToken } = await sessions.start(row.id)
      return { token, refreshToken, user: toUser(row) }
    },

    /**
     * Rotates the session's refresh token: a new pair (see `SessionStore.refresh` for reuse and theft), and how old its
     * token is (`IssuedPair.ageSeconds`, for the answer's `Age`).
     */
    async refresh(body: unknown): Promise<{ session: Session; ageSeconds: number }> {
      const input = parseRequest(refreshBodySchema, body ?? {})
      if (!input.ok) throw invalid(input.issues)
      const { userId, token, refreshToken, ageSeconds } = await sessions.refresh(input.value.refreshToken)
      const user = await findUser(userId)
      if (!user) throw unauthorized('unknown user')
      return { session: { token, refreshToken, user }, ageSeconds }
    },

    /**
     * Ends every session the request names: the body's refresh token's, and a valid (unexpired) access token's. Both
     * come from the client logging out; when they name two sessions (the stored refresh token written by another
     * login), keeping either alive would leave a logged-out browser's credential working. Refused only when neither
     * names a session; a session already ended ends again, harmlessly.
     */
    async logout(accessToken: string | undefined, body: unknown): Promise<void> {
      const input = parseRequest(logoutBodySchema, body ?? {})
      if (!input.ok) throw invalid(input.issues)
      const sessionIds = new Set<string>()
      const ofRefreshToken = await sessions.sessionOfRefreshToken(input.value.refreshToken)
      if (ofRefreshToken) sessionIds.add(ofRefreshToken)
      if (accessToken) {
        // An expired or bad Bearer beside a refresh token that names a session is no reason to refuse the logout.
        const claims = await tokens.verify(accessToken).catch((error: unknown) => {
          if (sessionIds.size === 0) throw error
          return undefined
        })
        if (claims) sessionIds.add(claims.sessionId)
      }
      if (sessionIds.size === 0) throw unauthorized('no session to end')
      for (const sessionId of sessionIds) await sessions.revokeSession(sessionId)
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
