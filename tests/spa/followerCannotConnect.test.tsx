// @vitest-environment jsdom
import { act } from 'react'
import { expect, test, vi } from 'vitest'
import { LOST_NEWS_AFTER_MS } from '../../src/app/ConnectionBadge'
import { selectConnection } from '../../src/realtime'
import { eventually } from './support/eventually'
import { pagePerTest, renderApp, saidIn } from './support/page'
import { aliceTabs } from './support/tabs'

// Alice opens the app in two tabs while the socket cannot connect (a proxy that blocks it, the server's socket path
// down). The tab holding the browser's one socket said "Could not connect…", once it lasted; the other tab, the one
// she looks at, said nothing and went on showing "reconnecting…" as if about to connect: the holder's failure never
// reached it. It says it now, as the holder does.

const page = pagePerTest('#/messages')

test('a follower tab says the first connect fails, and its end, as the tab holding the socket does', async () => {
  const { sockets, tab } = aliceTabs()
  const holder = tab('t1')
  await eventually(() => expect(selectConnection(holder.getState()).role).toBe('leader'))
  const follower = tab('t2')
  await eventually(() => expect(selectConnection(follower.getState()).role).toBe('follower'))
  renderApp(page.root, follower)
  const said = saidIn('[data-testid^=announcer-]')
  const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  try {
    act(() => sockets.last.networkError())
    // The news crosses the channel (a task later), then lasts the moment.
    await wait(0)
    await wait(LOST_NEWS_AFTER_MS + 100)
    expect(selectConnection(follower.getState()).status).toBe('connecting')
    expect(said).toEqual(['Could not connect. Trying again; messages go over HTTP meanwhile.'])
    await wait(30_000)
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    await eventually(() => expect(selectConnection(follower.getState()).status).toBe('connected'))
    expect(said).toEqual([
      'Could not connect. Trying again; messages go over HTTP meanwhile.',
      'Connection back: online.',
    ])
  } finally {
    vi.useRealTimers()
  }
  // The page still shows the follower: its connection going idle renders, inside `act`.
  act(() => follower.dispose())
  holder.dispose()
})
