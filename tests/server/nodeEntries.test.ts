import { describe, expect, it } from 'vitest'
import { ADD_SCRIPT, MEMBERS_SCRIPT, NodeEntries, RENEW_SCRIPT } from '../../server/cluster/entries'

// The heartbeat adds back what this node holds (Redis may have lost it), so it must hold only what Redis said it
// took: an add that failed or that the cap refused is never written back.

/** A sorted-set Redis in memory, enough for NodeEntries; `down` makes eval fail as ioredis does after its retries. */
function fakeRedis() {
  const sets = new Map<string, Map<string, number>>()
  const zset = (key: string) => sets.get(key) ?? sets.set(key, new Map()).get(key)!
  const state = { down: false, zremFails: false }
  const zadd = (key: string, ...rest: unknown[]) => {
    const xx = rest[0] === 'XX'
    const [score, member] = (xx ? rest.slice(1) : rest) as [number, string]
    if (xx && !zset(key).has(member)) return 0
    zset(key).set(member, Number(score))
    return 1
  }
  /** The scripts' work, on the fake's clock (Redis's `TIME` in the real ones). */
  const scripts = new Map<string, (key: string, args: unknown[]) => unknown>([
    [
      ADD_SCRIPT,
      (key, [member, ttl, cap]) => {
        const now = Date.now()
        const s = zset(key)
        for (const [m, score] of s) if (score <= now) s.delete(m)
        if (Number(cap) > 0 && s.size >= Number(cap)) return 0
        s.set(String(member), now + Number(ttl))
        return 1
      },
    ],
    [MEMBERS_SCRIPT, (key) => [...zset(key)].filter(([, score]) => score > Date.now()).map(([m]) => m)],
    [
      RENEW_SCRIPT,
      (key, [ttl, ...pairs]) => {
        for (let i = 0; i < pairs.length; i += 2) {
          const expiry = Date.now() + Number(ttl)
          if (pairs[i + 1] === '1') zadd(key, expiry, pairs[i])
          else zadd(key, 'XX', expiry, pairs[i])
        }
        return 1
      },
    ],
  ])
  const run = (script: string, key: string, args: unknown[]) => scripts.get(script)!(key, args)
  const redis = {
    state,
    sets,
    async eval(script: string, keys: number, key: string, ...args: unknown[]) {
      if (state.down) throw new Error('Reached the max retries per request limit (which is 3)')
      // The scripts' other keys (the marker) are not kept: Redis never loses its data here unless a test clears a set.
      return run(script, key, args.slice(keys - 1))
    },
    async zrem(key: string, ...members: string[]) {
      if (state.down || state.zremFails) throw new Error('Command timed out')
      for (const m of members) zset(key).delete(m)
      return members.length
    },
    pipeline() {
      const ops: (() => unknown)[] = []
      const p = {
        eval: (script: string, keys: number, key: string, ...args: unknown[]) => (
          ops.push(() => run(script, key, args.slice(keys - 1))), p
        ),
        zrem: (key: string, ...members: string[]) => (ops.push(() => members.forEach((m) => zset(key).delete(m))), p),
        // As ioredis answers a pipeline: an [error, result] pair per command.
        exec: async () => ops.map((op) => [null, op()]),
      }
      return p
    },
  }
  return redis
}

describe('NodeEntries: what the heartbeat writes back', () => {
  it('a socket slot whose add failed while Redis was down is not put into Redis by the heartbeat once it is back', async () => {
    const redis = fakeRedis()
    const entries = new NodeEntries(redis as never)
    redis.state.down = true
    // A handshake during the outage: the cap cannot be asked, the socket is refused (tryAcquire rejects).
    await expect(entries.add('sockets:alice', 'n1:s1', 5)).rejects.toThrow()
    redis.state.down = false
    // Redis is back: the next heartbeat.
    await (entries as unknown as { renew(): Promise<void> }).renew()
    // No socket n1:s1 exists; it must not count for alice (cap, presence).
    expect(await entries.members('sockets:alice')).toEqual([])
  })

  it('an add the cap refused is not added by a heartbeat sent while its answer was on the way', async () => {
    const redis = fakeRedis()
    const entries = new NodeEntries(redis as never)
    await entries.add('sockets:alice', 'n1:s1', 1)
    // The refused add's eval is sent; a heartbeat fires before its answer is read.
    const refused = entries.add('sockets:alice', 'n1:s2', 1)
    const beat = (entries as unknown as { renew(): Promise<void> }).renew()
    expect(await refused).toBe(false)
    await beat
    expect(await entries.members('sockets:alice')).toEqual(['n1:s1'])
  })

  it('a viewer who leaves while its add is on the way stays gone, also when this node holds another viewer there', async () => {
    const redis = fakeRedis()
    const entries = new NodeEntries(redis as never)
    await entries.add('viewers:c1', 'bob n1:s-bob')
    // Alice opens the thread and leaves it (or closes the tab) within one round trip: the ZREM goes after the add.
    const adding = entries.add('viewers:c1', 'alice n1:s-alice')
    await entries.remove('viewers:c1', 'alice n1:s-alice')
    await adding
    await (entries as unknown as { renew(): Promise<void> }).renew()
    // Were she written back, every message to her there would be marked read though she is not looking.
    expect(await entries.members('viewers:c1')).toEqual(['bob n1:s-bob'])
  })

  // Review: a leave whose ZREM failed (a command timed out) was only dropped from the heartbeat, so its entry counted
  // until it expired, up to ENTRY_TTL_MS (6 s): every message sent there meanwhile, on any node, was marked read for
  // the user who had left (the sender saw "Seen", the user no unread). The next heartbeat takes it out.
  it('a leave whose ZREM failed is taken out at the next heartbeat, not left counting until it expires', async () => {
    const redis = fakeRedis()
    const entries = new NodeEntries(redis as never)
    await entries.add('viewers:c1', 'bob n1:s-bob')
    await entries.add('viewers:c1', 'alice n1:s-alice')
    redis.state.zremFails = true
    await expect(entries.remove('viewers:c1', 'alice n1:s-alice')).rejects.toThrow()
    redis.state.zremFails = false
    await (entries as unknown as { renew(): Promise<void> }).renew()
    expect(await entries.members('viewers:c1')).toEqual(['bob n1:s-bob'])
  })

  it('a failed leave followed by a join again keeps the new entry', async () => {
    const redis = fakeRedis()
    const entries = new NodeEntries(redis as never)
    await entries.add('viewers:c1', 'alice n1:s-alice')
    redis.state.zremFails = true
    await expect(entries.remove('viewers:c1', 'alice n1:s-alice')).rejects.toThrow()
    redis.state.zremFails = false
    await entries.add('viewers:c1', 'alice n1:s-alice')
    await (entries as unknown as { renew(): Promise<void> }).renew()
    expect(await entries.members('viewers:c1')).toEqual(['alice n1:s-alice'])
  })

  it('a leave and a join again while the first add is on the way: the second add holds it, whatever the first says', async () => {
    const redis = fakeRedis()
    const entries = new NodeEntries(redis as never)
    const first = entries.add('viewers:c1', 'alice n1:s-alice')
    await entries.remove('viewers:c1', 'alice n1:s-alice')
    const second = entries.add('viewers:c1', 'alice n1:s-alice')
    await Promise.all([first, second])
    redis.sets.get('viewers:c1')!.clear() // Redis lost it (a restart without persistence): the heartbeat puts it back
    await (entries as unknown as { renew(): Promise<void> }).renew()
    expect(await entries.members('viewers:c1')).toEqual(['alice n1:s-alice'])
  })
})
