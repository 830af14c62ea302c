import { randomUUID } from 'node:crypto'
import { exactlyOnceLedger } from '../lib/exactlyOnce'
import type { Figure } from '../lib/figure'
import { api, selectConnection, type LayerStore } from '../lib/layer'
import { row } from '../lib/results'
import { sharedHost, type Host } from '../lib/server'
import { nowNs, nsToMs, percentile } from '../lib/stats'
import { settled, tabGroup, untilAll } from '../lib/tabGroup'

/**
 * P15: handoff. User A has three tabs in one "browser" (one channel, one lock manager, one storage), each with the
 * thread subscribed. The holder's tab is closed as the browser closes it: its store is disposed (its socket and hub
 * end, its channel closes) and the browser releases every lock it held. At that moment B posts a message to A (over
 * HTTP), which only the new holder's socket can bring. Timed from the close until every remaining tab is connected
 * and caught up with one of them the leader (the remaining follower attached to the new holder) and B's message is
 * in every remaining tab's cached thread: the moment is seen on a store notification, not polled. Then the server's
 * count of A's sockets, which must be 1; then a new tab opens (a follower), untimed, so every handoff starts from
 * three tabs. p50 and p99 over the handoffs; the layer's default heartbeat (1 s) and missed beats (3). Each remaining
 * tab must show B's message exactly once from the handoff until the tab closes or, after the last handoff, B's last
 * message has reached every tab (`exactlyOnceLedger`): a copy a later replay brings counts as much as a missing one.
 */

type Pair = Host['seeded'][number]
type State = ReturnType<LayerStore['getState']>

const sessionOf = (u: { id: string; token: string }) => ({
  token: u.token,
  user: { id: u.id, name: u.id, role: 'student' as const },
})

async function post(url: string, token: string, conversationId: string, content: string): Promise<void> {
  const response = await fetch(`${url}/api/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content, clientId: randomUUID() }),
  })
  if (response.status !== 201) throw new Error(`P15: POST message answered ${response.status}`)
}

export const p15: Figure = {
  id: 'P15',
  title: 'handoff: the holder tab closed → the socket back in a remaining tab and caught up',
  async run({ smoke, log }) {
    const sizes = smoke ? { warmup: 1, handoffs: 2, tabs: 2 } : { warmup: 2, handoffs: 20, tabs: 3 }
    const host = await sharedHost()
    const pair: Pair | undefined = host.seeded[2]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const selectThread = api.endpoints.getMessages.select(pair.conversationId)
    const modes = ['close', 'crash'] as const
    const times: Record<(typeof modes)[number], number[]> = { close: [], crash: [] }
    let mostSockets = 0
    const countOf = (s: State, tag: string) => (selectThread(s).data ?? []).filter((m) => m.content === tag).length
    const ledger = exactlyOnceLedger<State>((s) => selectThread(s).data)
    let doubledOrLost = 0
    const group = await tabGroup({ url: host.url, label: 'p15', session: sessionOf(pair.a) })
    try {
      const openTab = async () => {
        const tab = await group.open()
        await tab.client.subscribeThread(pair.conversationId)
      }
      for (let i = 0; i < sizes.tabs; i++) await openTab()
      await untilAll(
        group.tabs.map((t) => t.client.store),
        settled,
        'P15: the tabs to settle',
        20_000,
      )
      // Closes and crashes alternate: each handoff of one kind is next to one of the other on the machine's clock.
      for (let k = -sizes.warmup * 2; k < sizes.handoffs * 2; k++) {
        const mode = modes[(k + modes.length * sizes.warmup) % modes.length]!
        const h = Math.floor(k / 2)
        const leaving = group.leader()
        const staying = group.tabs.filter((t) => t !== leaving)
        const remaining = staying.map((t) => t.client.store)
        const tag = `p15 ${h} ${randomUUID().slice(0, 8)}`
        ledger.leave(leaving.id)
        if (h >= 0)
          ledger.expect(
            tag,
            staying.map((t) => ({ id: t.id, store: t.client.store })),
          )
        const t0 = nowNs()
        if (mode === 'close') group.closeTab(leaving)
        else group.crashTab(leaving)
        const posted = post(host.url, pair.b.token, pair.conversationId, tag)
        await untilAll(
          remaining,
          (states) => settled(states) && states.every((s) => countOf(s, tag) >= 1),
          'P15: the socket back in a remaining tab with B’s message',
          30_000,
        ).catch((error: unknown) => {
          // Where each remaining tab stands, for the report.
          const where = group.tabs.map((t) => {
            const c = selectConnection(t.client.store.getState())
            return `${t.id} ${c.role} ${c.status}${c.syncing ? ' syncing' : ''} offset ${c.offset}, B's message ×${countOf(t.client.store.getState(), tag)}`
          })
          throw new Error(`${String(error)} after a ${mode} of ${leaving.id}: ${where.join('; ')}`)
        })
        const t1 = nowNs()
        if (h >= 0) ledger.arrived(tag)
        await posted
        const sockets = await host.call('socketsOf', { userId: pair.a.id })
        if (h >= 0) {
          times[mode].push(t1 - t0)
          mostSockets = Math.max(mostSockets, sockets)
        }
        log(
          `P15 handoff ${h + 1}${h < 0 ? ' (warm-up)' : `/${sizes.handoffs}`} (${mode}): ${nsToMs(t1 - t0).toFixed(1)} ms, A's sockets at the server ${sockets}, new leader ${group.leader().id}`,
        )
        // The old socket's close may still be on its way to the server: the count must come down to one. Awaited on
        // the server's disconnects, not polled against a clock; 30 s only so that a socket that never closes fails.
        await host
          .call('untilSocketsOf', { userId: pair.a.id, count: 1, timeoutMs: 30_000 })
          .catch((error: unknown) => {
            throw new Error(`P15: after a ${mode} of ${leaving.id}: ${String(error)}`)
          })
        await openTab()
        await untilAll(
          group.tabs.map((t) => t.client.store),
          settled,
          'P15: the tabs to settle again',
          20_000,
        )
      }
      // The window ends on an event: B's last message in every tab, after anything the server sent before it.
      const last = `p15 last ${randomUUID().slice(0, 8)}`
      await post(host.url, pair.b.token, pair.conversationId, last)
      await untilAll(
        group.tabs.map((t) => t.client.store),
        (states) => settled(states) && states.every((s) => countOf(s, last) >= 1),
        'P15: B’s last message in every tab',
        30_000,
      )
      doubledOrLost = ledger.end().length
    } finally {
      await group.close()
    }
    const ms = (mode: (typeof modes)[number], p: number) => nsToMs(percentile(times[mode], p))
    return [
      row({
        id: 'P15',
        name: `handoff: holder tab closed → a remaining tab holds the socket again, every tab connected, caught up and with the message B sent meanwhile, p99 of ${times.close.length} (${sizes.tabs} tabs)`,
        value: ms('close', 99),
        unit: 'ms',
        target: { on: 'value', op: '<=', limit: 1000 },
      }),
      row({ id: 'P15-p50', name: 'the same, p50', value: ms('close', 50), unit: 'ms' }),
      row({
        id: 'P15-crash',
        name: `the same when the holder tab crashes (no goodbye on the channel; the browser releases its lock), p99 of ${times.crash.length}, alternating with the closes`,
        value: ms('crash', 99),
        unit: 'ms',
        target: { on: 'value', op: '<=', limit: 1000 },
      }),
      row({ id: 'P15-crash-p50', name: 'the same (crash), p50', value: ms('crash', 50), unit: 'ms' }),
      row({
        id: 'P15-sockets',
        name: 'A’s sockets at the server right after each handoff, the most',
        value: mostSockets,
        unit: 'sockets',
        target: { on: 'value', op: '==', limit: 1 },
      }),
      row({
        id: 'P15-lost',
        name: 'handoffs (closes and crashes) after which a remaining tab had B’s message other than exactly once, at any notification from the handoff until that tab closed or B’s last message reached every tab',
        value: doubledOrLost,
        unit: 'handoffs',
        target: { on: 'value', op: '==', limit: 0 },
      }),
    ]
  },
}
