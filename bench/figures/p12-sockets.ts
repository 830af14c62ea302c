import type { Figure } from '../lib/figure'
import { layerClient, selectConnection, type LayerClient, type LayerStore } from '../lib/layer'
import { row } from '../lib/results'
import { startHost, type Host } from '../lib/server'
import { median } from '../lib/stats'
import { settled, tabGroup, untilAll } from '../lib/tabGroup'

/**
 * P12: what one user's open tabs cost the server. User A opens 10 tabs in one "browser" (10 stores sharing one
 * channel, one lock manager, one storage); user C opens 10 solo stores (each its own socket, as without the
 * mechanism: the baseline). Counted at the server: A's and C's sockets once all 20 stores are connected; then the
 * server is restarted (closed: every transport drops, as in a deploy; started again on the same port and data
 * folder, so tokens and offsets stay valid) and the Socket.IO connections it accepts for each user are counted from
 * the restart until every one of the 20 stores is connected and caught up again, and once more a moment later.
 * A host of its own (a child process, like the shared one), since the restart would cut every other figure's
 * clients. Each round new stores, one restart; the counts are the most of any round (the worst), the time until all
 * are back the median of the rounds.
 */

type State = ReturnType<LayerStore['getState']>

const sessionOf = (u: { id: string; token: string }) => ({
  token: u.token,
  user: { id: u.id, name: u.id, role: 'student' as const },
})

const connectedAndCaughtUp = (states: State[]) =>
  states.every((s) => {
    const c = selectConnection(s)
    return c.status === 'connected' && !c.syncing
  })

/** Resolves once every store has been seen not connected, then connected and caught up again. */
function backAfterDrop(stores: LayerStore[], what: string): { back: Promise<number> } {
  const dropped = stores.map(() => false)
  const offs = stores.map((store, i) =>
    store.subscribe(() => {
      if (selectConnection(store.getState()).status !== 'connected') dropped[i] = true
    }),
  )
  const back = untilAll(stores, (states) => dropped.every(Boolean) && connectedAndCaughtUp(states), what, 120_000).then(
    () => {
      for (const off of offs) off()
      return performance.now()
    },
    (error: unknown) => {
      for (const off of offs) off()
      throw error
    },
  )
  return { back }
}

export const p12: Figure = {
  id: 'P12',
  title: 'sockets and handshakes at the server for one user with 10 tabs (one socket per browser)',
  async run({ smoke, log }) {
    const tabs = smoke ? 3 : 10
    const rounds = smoke ? 1 : 3
    const host: Host = await startHost({ seedPairs: 2 })
    const a = host.seeded[0]!.a
    const c = host.seeded[1]!.a
    const results = {
      sharedSockets: [] as number[],
      soloSockets: [] as number[],
      sharedHandshakes: [] as number[],
      soloHandshakes: [] as number[],
      sharedLater: [] as number[],
      sharedSocketsLater: [] as number[],
      soloLater: [] as number[],
      sharedBackMs: [] as number[],
      soloBackMs: [] as number[],
      downMs: [] as number[],
    }
    try {
      for (let round = 0; round < rounds; round++) {
        const group = await tabGroup({ url: host.url, label: 'p12', session: sessionOf(a) })
        const solo: LayerClient[] = []
        try {
          for (let i = 0; i < tabs; i++) await group.open()
          for (let i = 0; i < tabs; i++) solo.push(await layerClient({ url: host.url, session: sessionOf(c) }))
          const shared = group.tabs.map((t) => t.client.store)
          const own = solo.map((s) => s.store)
          await untilAll(shared, settled, 'P12: A’s tabs to settle', 30_000)
          await untilAll(own, connectedAndCaughtUp, 'P12: C’s solo stores to connect', 30_000)
          results.sharedSockets.push(await host.call('socketsOf', { userId: a.id }))
          results.soloSockets.push(await host.call('socketsOf', { userId: c.id }))

          const before = {
            a: await host.call('handshakesOf', { userId: a.id }),
            c: await host.call('handshakesOf', { userId: c.id }),
          }
          const sharedBack = backAfterDrop(shared, 'P12: A’s tabs to be back after the restart')
          const soloBack = backAfterDrop(own, 'P12: C’s stores to be back after the restart')
          const t0 = performance.now()
          const { downMs } = await host.call('restart')
          results.downMs.push(downMs)
          const [sharedAt, soloAt] = await Promise.all([sharedBack.back, soloBack.back])
          // Counted once every store is back: the handshakes it took. Counted again a moment later, so a late
          // straggler (a second tab reconnecting on its own) would show.
          const handshakes = async (userId: string, from: number) =>
            (await host.call('handshakesOf', { userId })) - from
          results.sharedHandshakes.push(await handshakes(a.id, before.a))
          results.soloHandshakes.push(await handshakes(c.id, before.c))
          results.sharedBackMs.push(sharedAt - t0)
          results.soloBackMs.push(soloAt - t0)
          await new Promise((resolve) => setTimeout(resolve, 1_000))
          results.sharedLater.push(await handshakes(a.id, before.a))
          results.soloLater.push(await handshakes(c.id, before.c))
          const socketsAfter = await host.call('socketsOf', { userId: a.id })
          results.sharedSocketsLater.push(socketsAfter)
          log(
            `P12 round ${round + 1}/${rounds}: sockets ${results.sharedSockets.at(-1)} (solo ${results.soloSockets.at(-1)}); after the restart (down ${downMs.toFixed(0)} ms) handshakes ${results.sharedHandshakes.at(-1)} (solo ${results.soloHandshakes.at(-1)}), 1 s later ${results.sharedLater.at(-1)} (solo ${results.soloLater.at(-1)}), A's sockets ${socketsAfter}; all back in ${(sharedAt - t0).toFixed(0)} ms (solo ${(soloAt - t0).toFixed(0)} ms)`,
          )
        } finally {
          await Promise.all(solo.map((s) => s.close()))
          await group.close()
        }
      }
    } finally {
      await host.close()
    }
    const worst = (values: number[]) => Math.max(...values)
    return [
      row({
        id: 'P12',
        name: `sockets at the server for one user with ${tabs} tabs sharing one (baseline: ${tabs} solo stores), the most in ${rounds} rounds`,
        value: worst(results.sharedSockets),
        unit: 'sockets',
        baseline: worst(results.soloSockets),
        target: { on: 'value', op: '==', limit: 1 },
      }),
      row({
        id: 'P12-restart',
        name: `handshakes the server accepted for that user after a restart, until all ${tabs} tabs were connected and caught up again (baseline: the ${tabs} solo stores), the most in ${rounds} rounds`,
        value: worst(results.sharedHandshakes),
        unit: 'handshakes',
        baseline: worst(results.soloHandshakes),
        target: { on: 'value', op: '==', limit: 1 },
      }),
      row({
        id: 'P12-restart-later',
        name: 'the same, counted 1 s after all were back (baseline: solo)',
        value: worst(results.sharedLater),
        unit: 'handshakes',
        baseline: worst(results.soloLater),
        target: { on: 'value', op: '==', limit: 1 },
      }),
      row({
        id: 'P12-sockets-later',
        name: `sockets at the server for that user 1 s after all ${tabs} tabs were back, the most in ${rounds} rounds`,
        value: worst(results.sharedSocketsLater),
        unit: 'sockets',
        target: { on: 'value', op: '==', limit: 1 },
      }),
      row({
        id: 'P12-back',
        name: `from the restart until all ${tabs} tabs were connected and caught up, median (baseline: the solo stores; default backoff, full jitter from 500 ms; server down ${median(results.downMs).toFixed(0)} ms)`,
        value: median(results.sharedBackMs),
        unit: 'ms',
        baseline: median(results.soloBackMs),
      }),
    ]
  },
}
