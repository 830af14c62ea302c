import type { Redis } from 'ioredis'
import { failureStreak, type Logger } from '../logger'
import { REDIS_COMMAND_TIMEOUT_MS } from './redis'

/** How often the subscriber is sent a PING, unless `startServer`'s `redisSubscriberPingMs` says otherwise. */
export const DEFAULT_SUBSCRIBER_PING_MS = 5_000

/**
 * PINGs `sub` every `periodMs` and drops its connection when no answer comes within `REDIS_COMMAND_TIMEOUT_MS`, so
 * that ioredis connects again and the node subscribes again (`keepSubscriptions`, at `ready`). A connection that a
 * NAT or a load balancer forgot without a reset stays open and silent: no error, no close, and only a command would
 * notice; but a subscriber sends none of its own, so the node would hear no other node again, and the typing and
 * presence notices, which no log brings back, would be lost for as long as it runs. Said once per streak of silent
 * connections, and once when one answers again. Returns the function that stops it.
 *
 * @example const stop = probeSubscriber(redis.sub, 5_000, logger); …; stop()
 */
export function probeSubscriber(sub: Redis, periodMs: number, logger: Logger): () => void {
  const silences = failureStreak(
    () =>
      logger.warn(
        `Redis subscriber answered no PING within ${REDIS_COMMAND_TIMEOUT_MS / 1000} s: reconnecting it (until then this node hears no other node)`,
      ),
    () => logger.info('Redis subscriber answers again: this node hears the other nodes again'),
  )
  let probing = false
  const probe = async () => {
    // A connection ioredis knows to be down (connecting, reconnecting, closed) is its own to bring back.
    if (probing || sub.status !== 'ready') return
    probing = true
    try {
      const outcome = await answerWithin(sub.ping(), REDIS_COMMAND_TIMEOUT_MS)
      if (outcome === 'answered') silences.succeeded()
      // Gone meanwhile: ioredis saw it go.
      if (outcome !== 'silent' || sub.status !== 'ready') return
      silences.failed(undefined)
      // ioredis ends the connection and destroys it `disconnectTimeout` later (2 s) when, as here, nothing answers
      // the end; not probed again before then: the next connection is the one to probe.
      const closed = new Promise((resolve) => sub.once('close', resolve))
      sub.disconnect(true)
      await closed
    } finally {
      probing = false
    }
  }
  const timer = setInterval(() => void probe(), periodMs)
  timer.unref()
  return () => clearInterval(timer)
}

/** `lost`: the command failed (ioredis saw the connection go, and reconnects). */
function answerWithin(command: Promise<unknown>, ms: number): Promise<'answered' | 'lost' | 'silent'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const silent = new Promise<'silent'>((resolve) => {
    timer = setTimeout(() => resolve('silent'), ms)
    timer.unref()
  })
  const answer = command.then(
    () => 'answered' as const,
    () => 'lost' as const,
  )
  return Promise.race([answer, silent]).finally(() => clearTimeout(timer))
}
