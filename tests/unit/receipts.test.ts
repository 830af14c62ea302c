import { describe, expect, test } from 'vitest'
import type { ThreadMessage } from '../../src/api'
import { lastSeenOwn } from '../../src/features/messages/receipts'
import { alice, bob, message } from './support/fixtures'

const mine = (seq: number, over: Partial<ThreadMessage> = {}): ThreadMessage => ({
  ...message(seq, { senderId: alice.id }),
  ...over,
})
const theirs = (seq: number): ThreadMessage => message(seq, { senderId: bob.id })

describe('where "Seen" goes', () => {
  test.each<[string, ThreadMessage[], number, string | null]>([
    ['under my last message the other has read', [mine(1), mine(2), mine(3)], 2, mine(2).id],
    ['under my last one even when their reply follows', [mine(1), theirs(2)], 2, mine(1).id],
    ['nowhere when they have read nothing', [mine(1)], 0, null],
    ['nowhere when I wrote nothing they read', [theirs(1), mine(2)], 1, null],
    ['never under a pending copy', [mine(1), mine(0, { id: 'k', status: 'pending', clientId: 'k' })], 5, mine(1).id],
  ])('%s', (_name, thread, readSeq, expected) => {
    expect(lastSeenOwn(thread, alice.id, readSeq)).toBe(expected)
  })
})
