import { describe, expect, test } from 'vitest'
import { api, REFRESH_STORAGE_KEY, refreshSession, saveRefreshToken } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { fakeSockets } from './support/fakeSocket'
import { alice } from './support/fixtures'
import { httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'

// What a login's or a refresh's answer becomes: the session `{ token, user }` for the store, its refresh token in
// storage; an answer that is no session is an error, and nothing of it is kept.

let reply: (req: StubRequest) => StubReply
const stub = httpStubPerTest((req) => reply(req))

function setup(preloaded?: { token: string; user: typeof alice }) {
  const storage = createMemoryStorage()
  const actions: { type: string }[] = []
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: fakeSockets().createSocket,
    storage,
    ...(preloaded ? { preloadedState: { auth: preloaded } } : {}),
    extraMiddleware: [
      () => (next) => (action) => (
        typeof action === 'object' && actions.push(action as { type: string }), next(action)
      ),
    ],
  })
  return { store, storage, actions }
}

const login = { email: 'alice@example.com', password: 'secret' }

describe('a login answer', () => {
  test('a session: { token, user } goes to the store (no refresh token in it), the refresh token to storage', async () => {
    reply = () => ({ status: 200, body: { token: 't1', refreshToken: 'r1', user: alice } })
    const { store, storage } = setup()
    const result = await store.dispatch(api.endpoints.login.initiate(login))
    expect(result).toMatchObject({ data: { token: 't1', user: alice } })
    expect(Object.keys((result as { data: object }).data).sort()).toEqual(['token', 'user'])
    expect(JSON.parse(storage.getItem(REFRESH_STORAGE_KEY) ?? 'null')).toEqual({ userId: alice.id, refreshToken: 'r1' })
  })

  test('without a refresh token: the session all the same, and storage untouched', async () => {
    reply = () => ({ status: 200, body: { token: 't1', user: alice } })
    const { store, storage } = setup()
    const result = await store.dispatch(api.endpoints.login.initiate(login))
    expect(result).toMatchObject({ data: { token: 't1', user: alice } })
    expect(storage.getItem(REFRESH_STORAGE_KEY)).toBeNull()
  })

  test('no session (a user that fails its schema): a parsing error, nothing stored, nobody logged in', async () => {
    reply = () => ({ status: 200, body: { token: 't1', refreshToken: 'r1', user: { id: alice.id } } })
    const { store, storage, actions } = setup()
    const result = await store.dispatch(api.endpoints.login.initiate(login))
    expect(result).toMatchObject({ error: { status: 'PARSING_ERROR', error: 'not a session' } })
    expect(storage.getItem(REFRESH_STORAGE_KEY)).toBeNull()
    expect(actions.some((a) => a.type === 'auth/loggedIn')).toBe(false)
  })

  test("the server's refusal is passed on as it came", async () => {
    reply = () => ({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'wrong password' } } })
    const { store } = setup()
    const result = await store.dispatch(api.endpoints.login.initiate(login))
    expect(result).toMatchObject({
      error: { status: 401, data: { error: { code: 'UNAUTHORIZED', message: 'wrong password' } } },
    })
  })
})

describe('a refresh answer', () => {
  test('no session (no token): unavailable, no tokenRefreshed, the old refresh token kept', async () => {
    reply = () => ({ status: 200, body: { refreshToken: 'r2', user: alice } })
    const { store, storage, actions } = setup({ token: 'old', user: alice })
    saveRefreshToken(storage, alice.id, 'r1')
    expect(await store.dispatch(refreshSession())).toBe('unavailable')
    expect(actions.some((a) => a.type === 'auth/tokenRefreshed')).toBe(false)
    expect(JSON.parse(storage.getItem(REFRESH_STORAGE_KEY) ?? 'null')).toEqual({ userId: alice.id, refreshToken: 'r1' })
    expect(store.getState().auth.token).toBe('old')
  })

  test('a session: tokenRefreshed with it, the next refresh token stored', async () => {
    reply = () => ({ status: 200, body: { token: 'new', refreshToken: 'r2', user: alice } })
    const { store, storage, actions } = setup({ token: 'old', user: alice })
    saveRefreshToken(storage, alice.id, 'r1')
    expect(await store.dispatch(refreshSession())).toBe('refreshed')
    expect(actions.filter((a) => a.type === 'auth/tokenRefreshed')).toHaveLength(1)
    expect(JSON.parse(storage.getItem(REFRESH_STORAGE_KEY) ?? 'null')).toEqual({ userId: alice.id, refreshToken: 'r2' })
    expect(store.getState().auth.token).toBe('new')
  })
})

describe('a list answer', () => {
  test.each([
    ['lessons', () => api.endpoints.getLessons.initiate(), { not: 'a list' }],
    ['contact requests', () => api.endpoints.getContactRequests.initiate(), [{ id: 'r1', status: 'maybe' }]],
    ['conversations', () => api.endpoints.getConversations.initiate(), [{ id: 'c1' }]],
    ['a thread', () => api.endpoints.getMessages.initiate('c1'), [{ id: 'm1', seq: 'one' }]],
    ['people', () => api.endpoints.getUsers.initiate(), [{ id: 'u1', role: 'admin' }]],
  ])(
    'of %s that does not match the contract: an error the pages show, never data of another shape',
    async (_name, initiate, body) => {
      reply = () => ({ status: 200, body })
      const { store } = setup({ token: 'token-1', user: alice })
      const query = store.dispatch(initiate() as never) as unknown as Promise<{ data?: unknown; error?: unknown }> & {
        unsubscribe(): void
      }
      const result = await query
      expect(result.data).toBeUndefined()
      expect(result.error).toMatchObject({ status: 'CUSTOM_ERROR', data: { error: { code: 'INTERNAL' } } })
      query.unsubscribe()
      store.dispose()
    },
  )
})
