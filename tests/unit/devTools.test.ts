// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { vi } from 'vitest'

// The Redux DevTools extension, as RTK finds it when it loads: it records the options `configureStore` hands it.
const devTools = vi.hoisted(() => {
  const options: Record<string, unknown>[] = []
  const compose =
    (...fns: ((...args: unknown[]) => unknown)[]) =>
    (arg: unknown) =>
      fns.reduceRight((acc, fn) => fn(acc), arg)
  ;(window as unknown as Record<string, unknown>).__REDUX_DEVTOOLS_EXTENSION_COMPOSE__ = (
    opts: Record<string, unknown>,
  ) => {
    options.push(opts)
    return compose
  }
  return { options }
})

import type { UnknownAction } from '@reduxjs/toolkit'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { fakeSockets } from './support/fakeSocket'
import { bob } from './support/fixtures'
import { startHttpStub } from './support/httpStub'

type Sanitizers = {
  actionSanitizer: (action: UnknownAction, id: number) => UnknownAction
  stateSanitizer: (state: unknown, index: number) => unknown
}

let stub: Awaited<ReturnType<typeof startHttpStub>>
beforeEach(async () => {
  stub = await startHttpStub(() => ({ status: 200, body: { token: 'token-9', user: bob } }))
})
afterEach(async () => {
  await stub.close()
})

describe('Redux DevTools never see the login password', () => {
  test('the login mutation’s actions and the api state reach DevTools with the password masked, the store itself untouched', async () => {
    const seen: UnknownAction[] = []
    const store = trackedStore({
      apiUrl: stub.url,
      createSocket: fakeSockets().createSocket,
      storage: createMemoryStorage(),
      extraMiddleware: [
        () => (next) => (action) => (typeof action === 'object' && seen.push(action as UnknownAction), next(action)),
      ],
    })
    const { actionSanitizer, stateSanitizer } = devTools.options.at(-1) as unknown as Sanitizers
    expect(typeof actionSanitizer).toBe('function')
    expect(typeof stateSanitizer).toBe('function')

    await store.dispatch(api.endpoints.login.initiate({ email: 'bob@talemy.test', password: 'secret-pw' }))
    const mutationActions = seen.filter((a) => a.type.startsWith('api/executeMutation/'))
    expect(mutationActions.map((a) => a.type)).toEqual(['api/executeMutation/pending', 'api/executeMutation/fulfilled'])
    for (const action of mutationActions) {
      expect(JSON.stringify(action)).toContain('secret-pw') // what the store got is left as it was
      const shown = actionSanitizer(action, 0)
      expect(JSON.stringify(shown)).not.toContain('secret-pw')
      expect(shown).toMatchObject({
        meta: { arg: { endpointName: 'login', originalArgs: { email: 'bob@talemy.test', password: '********' } } },
      })
    }
    // Other actions pass as they are (the same object).
    const other = seen.find((a) => a.type === 'auth/loggedIn')!
    expect(actionSanitizer(other, 1)).toBe(other)

    // State: a mutation entry carrying its arguments (RTK keeps them for a tracked mutation in some versions) is masked too.
    const state = store.getState()
    const withArgs = {
      ...state,
      api: {
        ...state.api,
        mutations: {
          r1: { status: 'pending', endpointName: 'login', originalArgs: { email: 'e', password: 'secret-pw' } },
        },
      },
    }
    const shownState = stateSanitizer(withArgs, 0)
    expect(JSON.stringify(shownState)).not.toContain('secret-pw')
    expect(shownState).toMatchObject({
      api: { mutations: { r1: { originalArgs: { email: 'e', password: '********' } } } },
    })
    expect(stateSanitizer(state, 1)).toBe(state)
  })
})
