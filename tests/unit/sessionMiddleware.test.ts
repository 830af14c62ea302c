import { combineReducers, configureStore } from '@reduxjs/toolkit'
import { afterAll, expect, test, vi } from 'vitest'
import { createSessionMiddleware } from '../../src/api/sessionMiddleware'
import { authSlice, loggedIn } from '../../src/app/authSlice'
import { createMemoryStorage } from '../../src/app/store'
import { alice } from './support/fixtures'

const { refreshDueAt } = vi.hoisted(() => ({ refreshDueAt: vi.fn<(token: string) => number | null>() }))

vi.mock('../../src/api/jwt', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/api/jwt')>()
  refreshDueAt.mockImplementation(actual.refreshDueAt)
  return { ...actual, refreshDueAt }
})

// In a worker shared with other files (isolate: false) the middleware may already be loaded with the real module:
// it is loaded afresh here, so that it reads the mock, and the files after this one get the real module back.
vi.hoisted(() => vi.resetModules())
afterAll(() => {
  vi.doUnmock('../../src/api/jwt')
  vi.resetModules()
})

test('a token without a lifetime is read once, not again at every later action', () => {
  const setTimeout = vi.fn()
  const store = configureStore({
    reducer: combineReducers({ auth: authSlice.reducer }),
    middleware: (gDM) =>
      gDM().concat(
        createSessionMiddleware({
          apiUrl: 'http://x',
          storage: createMemoryStorage(),
          timers: { setTimeout, clearTimeout: vi.fn() },
        }),
      ),
  })
  store.dispatch(loggedIn({ token: 'opaque-token', user: alice }))
  expect(refreshDueAt).toHaveBeenCalledTimes(1)
  for (let i = 0; i < 10; i++) store.dispatch({ type: 'something/else' })
  expect(refreshDueAt).toHaveBeenCalledTimes(1)
  expect(setTimeout).not.toHaveBeenCalled()
  // A new token is read again.
  store.dispatch(loggedIn({ token: 'another-opaque-token', user: alice }))
  expect(refreshDueAt).toHaveBeenCalledTimes(2)
})
