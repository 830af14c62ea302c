import { describe, expect, test } from 'vitest'
import { countUnsent } from '../../src/app/unsent'
import { outboxStorageKey, sendMessage } from '../../src/realtime'
import { alice } from '../unit/support/fixtures'
import { refusingStorage } from '../unit/support/refusingStorage'
import { aliceTabs } from './support/tabs'

// Alice has two tabs, offline, and the browser's storage is full. A message she writes in one is kept in that tab's
// memory alone. "Log out" in the other asked nothing (its count read its own outbox and the stored one), and the
// logout, which ends every tab's session, dropped the message without a word.

/** Offline: every request fails before it leaves, so a send stays pending. */
const offline = (async () => {
  throw new TypeError('Failed to fetch')
}) as unknown as typeof fetch

/** What the tabs posted meanwhile has reached the others (the memory channel delivers in microtasks). */
const delivered = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('logging out with unsent messages another tab could not save', () => {
  test('the count asked about before "Log out" includes those another tab holds in its memory alone', async () => {
    const full = refusingStorage(true)
    const { tab } = aliceTabs({ storage: full.storage, fetchFn: offline })
    const here = tab('t1')
    const there = tab('t2')
    there.dispatch(sendMessage({ conversationId: 'c1', content: 'written there', clientId: 'k1' }))
    // Unsent, and stored nowhere: the other tab's memory holds it alone.
    expect(there.getState().socket.outbox.map((m) => m.clientId)).toEqual(['k1'])
    expect(full.backing.getItem(outboxStorageKey(alice.id))).toBeNull()
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(1)
    // Counted once in the tab that holds it.
    expect(there.dispatch(countUnsent())).toBe(1)
  })

  test('a tab opened later counts them too; they stop counting once stored, or once their tab is gone', async () => {
    const full = refusingStorage(true)
    const { tab } = aliceTabs({ storage: full.storage, fetchFn: offline })
    const there = tab('t2')
    there.dispatch(sendMessage({ conversationId: 'c1', content: 'written there', clientId: 'k1' }))
    const here = tab('t1')
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(1)
    // Storage takes the outbox at its next change: both are stored now, and counted once.
    full.refusing = false
    there.dispatch(sendMessage({ conversationId: 'c1', content: 'and another', clientId: 'k2' }))
    expect(JSON.parse(full.backing.getItem(outboxStorageKey(alice.id)) ?? '[]')).toHaveLength(2)
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(2)
    // Refused again, then the tab closes (the page asked first): nothing of it is left to count.
    full.refusing = true
    full.backing.removeItem(outboxStorageKey(alice.id))
    there.dispatch(sendMessage({ conversationId: 'c1', content: 'a third', clientId: 'k3' }))
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(3)
    there.dispose()
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(0)
  })

  test('a tab that crashed (no goodbye) stops counting: its memory, and what it held there, is gone', async () => {
    const full = refusingStorage(true)
    const { tab, crash } = aliceTabs({ storage: full.storage, fetchFn: offline })
    const here = tab('t1')
    const there = tab('t2')
    there.dispatch(sendMessage({ conversationId: 'c1', content: 'written there', clientId: 'k1' }))
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(1)
    // Its renderer dies: no `pagehide`, no `unsaved: []`; the browser frees the locks it held.
    crash('t2')
    await delivered()
    expect(here.dispatch(countUnsent())).toBe(0)
  })
})
