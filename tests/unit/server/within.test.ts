import { describe, expect, it, vi } from 'vitest'
import { within } from '../../../server/within'

describe('within', () => {
  it("gives the work's value, or its refusal, when it settles in time", async () => {
    await expect(within(Promise.resolve('PONG'), 1_000, 'silent')).resolves.toBe('PONG')
    await expect(within(Promise.reject(new Error('closed')), 1_000, 'silent')).rejects.toThrow('closed')
  })

  it('gives `late` once the bound passes, and hears nothing of the work after (its refusal included)', async () => {
    vi.useFakeTimers()
    try {
      let refuse = (_: Error) => {}
      const work = new Promise<string>((_, reject) => {
        refuse = reject
      })
      const outcome = within(work, 5_000, 'silent')
      await vi.advanceTimersByTimeAsync(5_000)
      await expect(outcome).resolves.toBe('silent')
      refuse(new Error('too late'))
      await vi.advanceTimersByTimeAsync(0)
    } finally {
      vi.useRealTimers()
    }
  })
})
