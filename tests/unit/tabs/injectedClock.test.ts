import { configureStore } from '@reduxjs/toolkit'
import { afterEach, expect, test, vi } from 'vitest'
import { createSocketMiddleware, selectConnection } from '../../../src/realtime'
import { manualVisibility } from '../../../src/realtime/tabs/visibility'
import { fakeSockets } from '../support/fakeSocket'
import { loggedInState, rootReducer, socketOptions } from '../support/mockStore'
import { browser } from './support/browser'
import { createVirtualTime } from './support/virtualTime'

afterEach(() => {
  vi.useRealTimers()
})

// The election runs on the middleware's injected edges alone: its timers and its clock (`now`), never the host's.
test('a follower takes over a silent holder after the missed beats counted on the injected clock', async () => {
  vi.useFakeTimers({ toFake: ['Date'] }) // the host's clock stands still
  const time = createVirtualTime()
  const edges = browser()
  const sockets = fakeSockets()
  const open = (tabId: string) =>
    configureStore({
      reducer: rootReducer,
      preloadedState: loggedInState(),
      middleware: (gDM) =>
        gDM({ serializableCheck: false, immutableCheck: false }).concat(
          createSocketMiddleware(
            socketOptions(sockets, {
              timers: time.timers,
              now: time.now,
              tabs: {
                channelName: 'x',
                ...edges.tab(tabId),
                visibility: manualVisibility(true),
                tabId,
                heartbeatMs: 100,
              },
            }),
          ),
        ),
    })
  const run = async (until: number) => {
    while (time.now() < until) {
      time.runUntil(time.now() + 10)
      for (let i = 0; i < 10; i++) await Promise.resolve()
    }
  }
  const a = open('a')
  await run(10)
  const b = open('b')
  await run(500)
  const roles = () => [selectConnection(a.getState()).role, selectConnection(b.getState()).role]
  expect(roles()).toEqual(['leader', 'follower'])

  edges.silence('a', true)
  await run(1_500)
  expect(roles()).toEqual(['follower', 'leader'])
})
