import { constants, PerformanceObserver, performance } from 'node:perf_hooks'
import type { Dispatch, MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import { buildConnectionHandler } from '../../src/realtime/connectionHandler'
import { createContext } from '../../src/realtime/context'
import type { Handler } from '../../src/realtime/context'
import { buildOutboxHandler } from '../../src/realtime/outboxHandler'
import { createSocketHolder } from '../../src/realtime/socketHolder'
import { fakeSockets } from './support/fakeSocket'
import { loggedInState, socketOptions, type TestState } from './support/mockStore'

/**
 * Minor collections (scavenges) that began while `run` ran: a loop that allocates nothing causes none. Only those in
 * its window count (whatever the test runner allocates after it is not the loop's), so a slow machine cannot fail it.
 */
async function scavengesDuring(run: () => void): Promise<number> {
  const starts: number[] = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)
        starts.push(entry.startTime)
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  const from = performance.now()
  run()
  const to = performance.now()
  // The entries come asynchronously, after the loop, in the order the collections ended: one provoked after the loop is
  // let in only after the loop's (however late they come), so garbage is made until its entry is in.
  const garbage: unknown[][] = []
  while (!starts.some((start) => start > to)) {
    garbage.push(Array.from({ length: 100_000 }, (_, i) => ({ i })))
    await new Promise((resolve) => setImmediate(resolve))
  }
  observer.disconnect()
  return starts.filter((start) => start >= from && start <= to).length
}

function runner(build: (ctx: ReturnType<typeof createContext<TestState>>) => Handler<TestState>) {
  const state = loggedInState()
  const mwApi = { dispatch: ((a: unknown) => a) as Dispatch<UnknownAction>, getState: () => state }
  const ctx = createContext(
    socketOptions(fakeSockets(), {}),
    mwApi as MiddlewareAPI<Dispatch<UnknownAction>, TestState>,
    createSocketHolder(),
  )
  return { handler: build(ctx), state }
}

// An action a runner does not map (most of them: RTK Query's, the app's own) goes through it on every dispatch; since
// the mappings moved to connectionSteps.ts and outboxEvents.ts, they must allocate nothing there, not even an iterator.
describe('an unmatched action allocates nothing in the runners (no minor GC over 2M dispatches)', () => {
  test.each([
    ['connection', buildConnectionHandler],
    ['outbox', buildOutboxHandler],
  ] as const)(
    '%s',
    async (_name, build) => {
      const { handler, state } = runner(build)
      const action: UnknownAction = { type: 'app/somethingElse' }
      const loop = () => {
        for (let i = 0; i < 2_000_000; i++) handler(action, state)
      }
      loop() // warm up: the optimizing compiler has had its chance
      // The fewest of three runs: code the compiler installs meanwhile may tip one collection; a runner that allocates
      // per action (40 B an action is 80 MB a run) collects in every run.
      const runs = [await scavengesDuring(loop), await scavengesDuring(loop), await scavengesDuring(loop)]
      expect(Math.min(...runs)).toBe(0)
    },
    // 8M dispatches and the garbage made until a collection is seen: pure CPU, 2.4–3.6 s on a quiet machine and up to
    // 30 s at a load of 16 on two cores; the bound only stops a runaway, it decides nothing.
    180_000,
  )
})
