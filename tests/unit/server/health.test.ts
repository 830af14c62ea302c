import { describe, expect, it } from 'vitest'
import { healthProbe } from '../../../server/health'

// What a load balancer or an orchestrator asks a node: can it serve (its database, and Redis with several nodes)?

const never = () => new Promise<never>(() => {})

describe('healthProbe', () => {
  it('is ok when every part answers', async () => {
    const probe = healthProbe([{ name: 'database', check: async () => 1 }])
    await expect(probe()).resolves.toEqual({ ok: true, failing: [] })
  })

  it('names the parts that fail or do not answer within the bound', async () => {
    const timers: Array<() => void> = []
    const probe = healthProbe(
      [
        { name: 'database', check: async () => 1 },
        { name: 'redis', check: never },
        {
          name: 'redis subscriber',
          check: async () => {
            throw new Error('closed')
          },
        },
      ],
      {
        timeoutMs: 2_000,
        setTimeout: (run) => {
          timers.push(run)
          return 0 as unknown as ReturnType<typeof setTimeout>
        },
        clearTimeout: () => {},
      },
    )
    const report = probe()
    // The parts that answer have answered (their promises settle within this task's microtasks): the bound passes.
    await new Promise((resolve) => setImmediate(resolve))
    for (const fire of timers) fire()
    await expect(report).resolves.toEqual({ ok: false, failing: ['redis', 'redis subscriber'] })
  })

  it('asks each part once for concurrent callers (a flood of probes is one query at a time)', async () => {
    let asked = 0
    let answer = (_: number) => {}
    const probe = healthProbe([
      {
        name: 'database',
        check: () => {
          asked++
          return new Promise<number>((resolve) => {
            answer = resolve
          })
        },
      },
    ])
    const both = Promise.all([probe(), probe()])
    answer(1)
    await expect(both).resolves.toEqual([
      { ok: true, failing: [] },
      { ok: true, failing: [] },
    ])
    expect(asked).toBe(1)
    await probe()
    expect(asked).toBe(2)
  })
})

describe('healthProbe, a part slow to answer', () => {
  it('is not asked again while its earlier question is unanswered (each round still answers within the bound)', async () => {
    let asked = 0
    let answer = () => {}
    const timers: Array<() => void> = []
    const probe = healthProbe(
      [
        {
          name: 'database',
          check: () => {
            asked++
            return new Promise<void>((resolve) => {
              answer = resolve
            })
          },
        },
      ],
      {
        setTimeout: (run) => {
          timers.push(run)
          return 0 as unknown as ReturnType<typeof setTimeout>
        },
        clearTimeout: () => {},
      },
    )
    for (let round = 0; round < 3; round++) {
      const report = probe()
      for (const fire of timers.splice(0)) fire()
      await expect(report).resolves.toEqual({ ok: false, failing: ['database'] })
    }
    expect(asked).toBe(1)
    answer()
    await new Promise((resolve) => setImmediate(resolve))
    // Answered: the next round asks again.
    const next = probe()
    for (const fire of timers.splice(0)) fire()
    await expect(next).resolves.toEqual({ ok: false, failing: ['database'] })
    expect(asked).toBe(2)
  })
})
