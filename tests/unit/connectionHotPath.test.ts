import { constants, PerformanceObserver } from 'node:perf_hooks'
import type { Dispatch, MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { expect, test } from 'vitest'
import { buildConnectionHandler } from '../../src/realtime/connectionHandler'
import { createContext } from '../../src/realtime/context'
import { createSocketHolder } from '../../src/realtime/socketHolder'
import { fakeSockets } from './support/fakeSocket'
import { loggedInState, socketOptions, type TestState } from './support/mockStore'

/** Minor collections (scavenges) while `run` runs: a loop that allocates nothing causes none. */
async function scavengesDuring(run: () => void): Promise<number> {
  let count = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) count += 1
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  run()
  // The entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50))
  observer.disconnect()
  return count
}

// An action the connection does not map (most of them: RTK Query's, the app's own) goes through the runner on every
// dispatch; as before the mapping moved to connectionSteps.ts, it must allocate nothing there, not even an iterator.
test('an unmatched action allocates nothing in the connection runner (no minor GC over 2M dispatches)', async () => {
  const state = loggedInState()
  const mwApi = { dispatch: ((a: unknown) => a) as Dispatch<UnknownAction>, getState: () => state }
  const ctx = createContext(
    socketOptions(fakeSockets(), {}),
    mwApi as MiddlewareAPI<Dispatch<UnknownAction>, TestState>,
    createSocketHolder(),
  )
  const handler = buildConnectionHandler(ctx)
  const action: UnknownAction = { type: 'app/somethingElse' }
  const loop = () => {
    for (let i = 0; i < 2_000_000; i++) handler(action, state)
  }
  loop() // warm up: the optimizing compiler has run
  expect(await scavengesDuring(loop)).toBe(0)
})
