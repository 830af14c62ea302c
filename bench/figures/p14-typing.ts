import type { Socket } from 'socket.io-client'
import { closeSocket, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { row } from '../lib/results'
import { startHost, type Host } from '../lib/server'
import { sleep, waitFor } from '../lib/stats'

/**
 * P14: what typing notices cost the server. N users (N/2 seeded pairs, each with its conversation; bare
 * socket.io-clients on WebSocket, one per user) connected to the reference server in its own process. Windows of D
 * seconds, one after the other on the same sockets: idle; every user sending `typing` every 2 s (what the layer sends
 * while someone types: `TYPING_SEND_INTERVAL_MS`); every user at the server's limit (2 a second); idle again. Sends
 * are staggered evenly over the interval. Per window: `typing` acked (in) and `typing` received by the partners (out)
 * per second, and the server process's CPU (`process.cpuUsage`, user + system) over the window's wall time. Baseline:
 * the mean of the two idle windows, measured in the same run on the same sockets.
 */

type Pair = Host['seeded'][number]
type Ack = { ok: true } | { ok: false; error: { code: string } }

interface Window {
  cpuShare: number
  seconds: number
  acked: number
  refused: Record<string, number>
  received: number
}

export const p14: Figure = {
  id: 'P14',
  title: 'typing at the server: 100 users typing at once, events and CPU, against the same clients idle',
  async run({ smoke, log }) {
    const pairs = smoke ? 2 : 50
    const windowMs = smoke ? 1_000 : 10_000
    const host = await startHost({ seedPairs: pairs })
    const users: Array<{ socket: Socket; conversationId: string }> = []
    let received = 0
    try {
      const all = host.seeded.flatMap((pair: Pair) => [
        { token: pair.a.token, conversationId: pair.conversationId },
        { token: pair.b.token, conversationId: pair.conversationId },
      ])
      for (let i = 0; i < all.length; i += 10) {
        const batch = await Promise.all(
          all
            .slice(i, i + 10)
            .map(async (u) => ({ socket: await rawSocket(host.url, u.token), conversationId: u.conversationId })),
        )
        users.push(...batch)
      }
      for (const u of users) u.socket.on('typing', () => received++)
      log(`P14: ${users.length} sockets connected`)

      /** One window: every user sends every `everyMs` (none when null), staggered; CPU measured over the window. */
      const measure = async (everyMs: number | null): Promise<Window> => {
        const refused: Record<string, number> = {}
        let acked = 0
        let sent = 0
        const receivedBefore = received
        const timers: Array<ReturnType<typeof setTimeout>> = []
        const answers: Array<Promise<void>> = []
        const send = (u: (typeof users)[number]) => {
          sent++
          answers.push(
            (u.socket.timeout(10_000).emitWithAck('typing', { conversationId: u.conversationId }) as Promise<Ack>).then(
              (ack) => {
                if (ack.ok) acked++
                else refused[ack.error.code] = (refused[ack.error.code] ?? 0) + 1
              },
              () => {
                refused.timeout = (refused.timeout ?? 0) + 1
              },
            ),
          )
        }
        const before = await host.call('cpu')
        const start = performance.now()
        if (everyMs !== null)
          users.forEach((u, i) => {
            const offset = (everyMs * i) / users.length
            timers.push(
              setTimeout(() => {
                send(u)
                timers.push(setInterval(() => send(u), everyMs))
              }, offset),
            )
          })
        await sleep(windowMs)
        for (const t of timers) clearInterval(t)
        const after = await host.call('cpu')
        const seconds = (performance.now() - start) / 1000
        // Every send answered, and every acked notice delivered to its partner (or 5 s passed) before the next window.
        await Promise.all(answers)
        await waitFor(() => received - receivedBefore >= acked, 'the typing notices to arrive', 5_000, 10).catch(
          () => undefined,
        )
        const cpuShare = (after.cpuMicros - before.cpuMicros) / ((Number(after.at) - Number(before.at)) / 1e3)
        log(
          `P14 window (${everyMs === null ? 'idle' : `every ${everyMs} ms`}): sent ${sent}, acked ${acked}, refused ${JSON.stringify(refused)}, received ${received - receivedBefore}, server CPU ${(cpuShare * 100).toFixed(1)} %`,
        )
        return { cpuShare, seconds, acked, refused, received: received - receivedBefore }
      }

      const idleBefore = await measure(null)
      const layerRate = await measure(2_000)
      const atLimit = await measure(500)
      const idleAfter = await measure(null)
      const idleShare = ((idleBefore.cpuShare + idleAfter.cpuShare) / 2) * 100
      const n = users.length
      const refusedOf = (w: Window) => Object.values(w.refused).reduce((a, b) => a + b, 0)
      return [
        row({
          id: 'P14',
          name: `server CPU, ${n} users each sending typing every 2 s (as the layer does) for ${windowMs / 1000} s, share of one core (baseline: the same sockets idle, mean of a window before and one after)`,
          value: layerRate.cpuShare * 100,
          unit: '%',
          baseline: idleShare,
        }),
        row({
          id: 'P14-in',
          name: `typing notices accepted by the server per second, every 2 s (${refusedOf(layerRate)} refused: ${JSON.stringify(layerRate.refused)})`,
          value: layerRate.acked / layerRate.seconds,
          unit: 'events/s',
        }),
        row({
          id: 'P14-out',
          name: 'typing events delivered to the partners per second, every 2 s (baseline: accepted per second)',
          value: layerRate.received / layerRate.seconds,
          unit: 'events/s',
          baseline: layerRate.acked / layerRate.seconds,
        }),
        row({
          id: 'P14-limit',
          name: `server CPU, the same ${n} users at the server's typing limit (every 500 ms, 2 a second), share of one core (baseline: idle)`,
          value: atLimit.cpuShare * 100,
          unit: '%',
          baseline: idleShare,
        }),
        row({
          id: 'P14-limit-in',
          name: `typing notices accepted per second at the limit (${refusedOf(atLimit)} refused: ${JSON.stringify(atLimit.refused)})`,
          value: atLimit.acked / atLimit.seconds,
          unit: 'events/s',
        }),
        row({
          id: 'P14-limit-out',
          name: 'typing events delivered per second at the limit (baseline: accepted per second)',
          value: atLimit.received / atLimit.seconds,
          unit: 'events/s',
          baseline: atLimit.acked / atLimit.seconds,
        }),
        row({
          id: 'P14-idle',
          name: `server CPU with the ${n} sockets idle, share of one core (windows before and after: ${(idleBefore.cpuShare * 100).toFixed(2)} %, ${(idleAfter.cpuShare * 100).toFixed(2)} %)`,
          value: idleShare,
          unit: '%',
        }),
      ]
    } finally {
      await Promise.all(users.map((u) => closeSocket(u.socket).catch(() => undefined)))
      await host.close()
    }
  },
}
