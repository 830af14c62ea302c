import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Id } from '../../src/contract'
import { bearerToken } from '../auth'
import { addressKey } from '../clientAddress'
import { loadBudget, type Limiter } from '../rateLimit'
import type { HealthReport } from '../health'
import type { Services } from '../services'
import type { SessionStore } from '../sessions'
import { idempotencyKeyOf, sendAnswer } from './idempotency'

export interface ApiDeps {
  services: Services
  sessions: SessionStore
  /** Each user's budget of reads. */
  readLimiter: Limiter
  /** Each client address's budget of refresh tokens presented (refresh, and logout with one). */
  refreshLimiter: Limiter
  /** Each client address's budget of logins, whatever their outcome. */
  loginLimiter: Limiter
  /** Each listed user's presence for the asker (absent for people who share no conversation with them). */
  presenceFor?: (askerId: Id) => Promise<ReadonlyMap<Id, { online: boolean; lastSeenAt: string | null }>>
  /** Whether this node can serve now (`GET /api/health`). */
  health?: () => Promise<HealthReport>
}

type IdParams = { Params: { id: string } }

/** How long a read waits for its budget's answer (Redis's, with several nodes) before going through unbudgeted. */
const READ_BUDGET_WAIT_MS = 500

/** Whether a body names a refresh token (well-formed or not: the lookup is what the budget pays for). */
const namesRefreshToken = (body: unknown): boolean =>
  typeof body === 'object' && body !== null && Object.hasOwn(body, 'refreshToken')

/** The contract's endpoints, thin: parse the request, call a service, send its result. */
export function registerApiRoutes(
  api: FastifyInstance,
  { services, sessions, readLimiter, refreshLimiter, loginLimiter, presenceFor, health }: ApiDeps,
): void {
  const { accounts, messaging, bookings } = services
  // Unexpired and of a live session: a logout refuses the session's access tokens at once.
  const authenticate = async (request: FastifyRequest): Promise<Id> =>
    (await sessions.authenticate(bearerToken(request.headers.authorization))).userId
  const authenticatedAs = new WeakMap<FastifyRequest, Id>()
  // Each endpoint of a user's checks the Bearer as the request arrives, before its body is read: a request without a
  // valid token is UNAUTHORIZED whatever its body (malformed JSON, an array, another charset…), as it is with a good
  // one, and a client told 400 does not mend its body only to be told 401 (authentication before validation).
  const authenticated = {
    onRequest: async (request: FastifyRequest): Promise<void> => {
      authenticatedAs.set(request, await authenticate(request))
    },
  }
  const userOf = async (request: FastifyRequest): Promise<Id> =>
    authenticatedAs.get(request) ?? (await authenticate(request))
  // Budgets that bound load, nothing more: with Redis away (or stalled) the request goes on unbudgeted rather than
  // fail, said once per outage.
  const loadBudgetOf = (limiter: Limiter, what: string) =>
    loadBudget(limiter, READ_BUDGET_WAIT_MS, () =>
      api.log.warn(`the ${what} budget does not answer (Redis away?): ${what}s go through unbudgeted until it does`),
    )
  // A read costs a query whatever it finds (a made-up conversation id too): each user's are budgeted, once known.
  const spendRead = loadBudgetOf(readLimiter, 'read')
  const readerOf = async (request: FastifyRequest): Promise<Id> => {
    const userId = await userOf(request)
    await spendRead(userId)
    return userId
  }
  // Before anyone is known, the client's address pays (its /64 for IPv6): a refresh token presented costs a hash and
  // a lookup whatever it is (failing closed with Redis away would let every user's access token run out), and each
  // login hashes a password while the login throttle counts only failures.
  const byAddress = (spend: (key: string) => Promise<void>) => (request: FastifyRequest) =>
    spend(addressKey(request.ip))
  const spendRefresh = loadBudgetOf(refreshLimiter, 'refresh')
  // A refresh token presented (refresh, or logout with one) is paid for by the address; past its budget (shared: a
  // school's NAT, an office, or spent by someone else on it), by the user whose Bearer this server signed (expired
  // too) comes with it, while its session is live: the browser sends its Bearer with both. One budget per user and
  // address, not per session: every login starts a session, so refresh tokens made up beside the Bearers of many
  // logins would grow with the logins made; a user's devices each refresh once per token life, far within it. Not one
  // per user alone: a Bearer of one of their sessions (expired too) would spend it from anywhere, and every device of
  // theirs behind a spent address (a school's NAT) would be refused its renewal. A session already ended opens none
  // (its Bearer stays signed: each login, ended at once, would add a budget for good).
  const spendRefreshBudget = (request: FastifyRequest) =>
    spendRefresh(addressKey(request.ip)).catch(async (refusal: unknown) => {
      const owner = await sessions.ownerOf(bearerToken(request.headers.authorization))
      if (!owner || !(await sessions.isLive(owner.sessionId))) throw refusal
      await spendRefresh(`user ${owner.userId} ${addressKey(request.ip)}`).catch(() => {
        throw refusal
      })
    })
  const spendLoginBudget = byAddress(loadBudgetOf(loginLimiter, 'login'))

  api.post('/auth/login', async (request) => {
    await spendLoginBudget(request)
    return accounts.login(request.body, request.ip)
  })
  api.post('/auth/refresh', async (request, reply) => {
    // A body naming no refresh token is refused INVALID without a lookup: nothing for the budget to pay for.
    if (namesRefreshToken(request.body)) await spendRefreshBudget(request)
    const { session, ageSeconds } = await accounts.refresh(request.body)
    // The pair answered again from the reuse window was made at the first rotation: `Age` says how long ago (RFC 9111),
    // so that its token's `iat` plus it is the server's now, which the browser schedules its refreshes by.
    if (ageSeconds > 0) reply.header('age', String(ageSeconds))
    return session
  })
  api.post(
    '/auth/logout',
    {
      // A body that cannot be read (bad JSON, a refresh token of the wrong type) is answered INVALID, but must not keep
      // alive the session a valid Bearer names: a logout fails closed.
      onError: async (request) => {
        await accounts.logout(bearerToken(request.headers.authorization), undefined).catch(() => undefined)
      },
    },
    async (request, reply) => {
      // A Bearer alone is checked by its signature, cheaply: logging out with it is never refused for the address's
      // budget (a refusal here still ends that Bearer's session, through onError above).
      const bearer = bearerToken(request.headers.authorization)
      // The browser forgets its tokens whatever the answer, so a refused logout would leave its session alive
      // (ASVS 3.3.1): the refresh token issued with its Bearer (expired too, as after a sleep) ends their session
      // with no lookup, so with no budget; otherwise, past the address's budget, its Bearer's user pays (see
      // spendRefreshBudget).
      if (namesRefreshToken(request.body)) {
        const { refreshToken } = request.body as { refreshToken: unknown }
        if (await sessions.endPaired(bearer, refreshToken)) return reply.status(204).send()
        await spendRefreshBudget(request)
      }
      await accounts.logout(bearer, request.body)
      return reply.status(204).send()
    },
  )

  // For load balancers and orchestrators: no token, and nothing said but which parts fail.
  if (health) {
    api.get('/health', async (_request, reply) => {
      const report = await health()
      return report.ok ? { status: 'ok' } : reply.status(503).send({ status: 'unavailable', failing: report.failing })
    })
  }
  api.get('/me', authenticated, async (request) => accounts.me(await readerOf(request)))
  api.get('/users', authenticated, async (request) => {
    const userId = await readerOf(request)
    // Presence that cannot be read (Redis away) is told as unknown: the people list itself does not depend on it.
    const presenceOrNone = (presenceFor?.(userId) ?? Promise.resolve(new Map())).catch((error: unknown) => {
      request.log.warn({ err: error }, 'presence unavailable for /api/users')
      return new Map()
    })
    const [users, presence] = await Promise.all([accounts.listUsers(userId), presenceOrNone])
    // `null`: not known to the asker (no shared conversation), rather than "offline".
    return users.map((user) => ({
      ...user,
      online: presence.get(user.id)?.online ?? null,
      lastSeenAt: presence.get(user.id)?.lastSeenAt ?? null,
    }))
  })

  api.get('/conversations', authenticated, async (request) => messaging.listConversations(await readerOf(request)))
  api.post('/conversations', authenticated, async (request, reply) => {
    const { conversation, created } = await messaging.createConversation(await userOf(request), request.body)
    return reply.status(created ? 201 : 200).send(conversation)
  })
  api.get<IdParams>('/conversations/:id/messages', authenticated, async (request) =>
    messaging.listMessages(await readerOf(request), request.params.id, request.query),
  )
  api.post<IdParams>('/conversations/:id/messages', authenticated, async (request, reply) => {
    const message = await messaging.post(await userOf(request), request.params.id, request.body)
    return reply.status(201).send(message)
  })

  api.get('/lessons', authenticated, async (request) => bookings.listLessons(await readerOf(request)))
  // With an Idempotency-Key, a repeat (an answer lost, the button pressed again) books nothing more.
  api.post('/lessons', authenticated, async (request, reply) => {
    const userId = await userOf(request)
    return sendAnswer(reply, await bookings.createLesson(userId, request.body, () => idempotencyKeyOf(request)))
  })
  api.patch<IdParams>('/lessons/:id', authenticated, async (request) =>
    bookings.updateLessonStatus(await userOf(request), request.params.id, request.body),
  )

  api.get('/contact-requests', authenticated, async (request) => bookings.listContactRequests(await readerOf(request)))
  api.post('/contact-requests', authenticated, async (request, reply) => {
    const userId = await userOf(request)
    return sendAnswer(reply, await bookings.createContactRequest(userId, request.body, () => idempotencyKeyOf(request)))
  })
  api.patch<IdParams>('/contact-requests/:id', authenticated, async (request) =>
    bookings.updateContactRequestStatus(await userOf(request), request.params.id, request.body),
  )
}
