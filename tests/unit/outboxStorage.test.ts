import { describe, expect, test, vi } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { createOutboxStorage, outboxStorageKey } from '../../src/realtime'
import { DISCARDS_KEPT, discardedStorageKey, droppedStorageKey, outboxMirror } from '../../src/realtime/outboxStorage'
import { pendingMessage } from './support/fixtures'
import { refusingStorage } from './support/refusingStorage'

describe('durable outbox storage', () => {
  test('one key per user; saved and loaded in order', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    durable.save('u1', [], [pendingMessage('k1'), pendingMessage('k2')])
    durable.save('u2', [], [pendingMessage('k9')])
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1', 'k2'])
    expect(durable.load('u2').map((m) => m.clientId)).toEqual(['k9'])
    expect(storage.getItem(outboxStorageKey('u1'))).not.toBeNull()
  })

  test("a save merges with other tabs' entries: only this tab's additions, updates and removals apply", () => {
    const storage = createMemoryStorage()
    const tab1 = createOutboxStorage(storage)
    const tab2 = createOutboxStorage(storage)
    tab1.save('u1', [], [pendingMessage('a1')])
    tab2.save('u1', [], [pendingMessage('b1')])
    tab1.save('u1', [pendingMessage('a1')], [pendingMessage('a1', { attempts: 2 }), pendingMessage('a2')])
    expect(tab1.load('u1').map((m) => `${m.clientId}:${m.attempts}`)).toEqual(['a1:2', 'b1:0', 'a2:0'])
    tab2.save('u1', [pendingMessage('b1')], [])
    tab1.save('u1', [pendingMessage('a1'), pendingMessage('a2')], [pendingMessage('a2')])
    expect(tab1.load('u1').map((m) => m.clientId)).toEqual(['a2'])
    tab1.save('u1', [pendingMessage('a2')], [])
    expect(storage.getItem(outboxStorageKey('u1'))).toBeNull()
  })

  test('corrupt or foreign data is skipped, never thrown; a full storage only returns false', () => {
    const full = refusingStorage(false)
    const storage = full.backing
    storage.setItem(outboxStorageKey('u1'), '{not json')
    const durable = createOutboxStorage(storage)
    expect(durable.load('u1')).toEqual([])
    storage.setItem(
      outboxStorageKey('u1'),
      JSON.stringify([
        pendingMessage('k1'),
        { clientId: 5 },
        pendingMessage('k1'),
        pendingMessage('k2', { status: 'weird' as never }),
      ]),
    )
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1'])
    full.refusing = true
    expect(createOutboxStorage(full.storage).save('u1', [], [pendingMessage('k3')])).toBe(false)
  })

  test('a save while storage cannot be read writes nothing: what it holds (this tab’s earlier sends, other tabs’) stays', () => {
    // A read that throws (a storage that failed for a moment) gives no list to merge into: written anyway, the list
    // would be this change alone, and the sends already stored would be gone at the next reload.
    const backing = createMemoryStorage()
    let unreadable = false
    const storage = {
      getItem: (key: string) => {
        if (unreadable) throw new Error('SecurityError')
        return backing.getItem(key)
      },
      setItem: (key: string, value: string) => backing.setItem(key, value),
      removeItem: (key: string) => backing.removeItem(key),
    }
    const durable = createOutboxStorage(storage)
    const one = [pendingMessage('k1')]
    durable.save('u1', [], one)
    createOutboxStorage(backing).save('u1', [], [pendingMessage('b1')])
    unreadable = true
    expect(durable.save('u1', one, [...one, pendingMessage('k2')])).toBe(false)
    expect(durable.save('u1', one, [])).toBe(false)
    unreadable = false
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1', 'b1'])
  })

  test('clear removes the user only', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    durable.save('u1', [], [pendingMessage('k1')])
    durable.save('u2', [], [pendingMessage('k2')])
    durable.clear('u1')
    expect(durable.load('u1')).toEqual([])
    expect(durable.load('u2')).toHaveLength(1)
  })

  test('a logout with sends stored marks them dropped for the tabs yet to hear of it, until the next session reads back', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    // Nothing stored: marked all the same, since a tab whose sends storage refused holds them in its memory alone.
    // One that writes a send before it hears drops it when it hears, as when sends were stored.
    durable.clear('u1')
    expect(storage.getItem(droppedStorageKey('u1'))).toBe('1')
    durable.save('u1', [], [pendingMessage('k0')])
    durable.clearIfDropped('u1')
    expect(durable.load('u1')).toEqual([])
    // The next session reads back: the mark ends, and what its tabs write stays.
    durable.forgetDropped('u1')
    expect(storage.getItem(droppedStorageKey('u1'))).toBeNull()
    durable.save('u1', [], [pendingMessage('k1')])
    durable.clearIfDropped('u1')
    expect(durable.load('u1')).toHaveLength(1)
    durable.save('u2', [], [pendingMessage('x1')])
    durable.clear('u1')
    // A tab that has not heard yet writes its send back (a retry's count): named discarded, it is not taken.
    durable.save('u1', [pendingMessage('k1')], [pendingMessage('k1', { attempts: 1 })])
    expect(durable.load('u1')).toEqual([])
    // One that does not look the discards up (a send new to the tab) is; hearing, the tab drops it again.
    durable.save('u1', [], [pendingMessage('k1')])
    expect(durable.load('u1')).toHaveLength(1)
    durable.clearIfDropped('u1')
    expect(storage.getItem(outboxStorageKey('u1'))).toBeNull()
    // Written back again by a tab that closed before it heard: the next session reads nothing back, and ends the mark.
    durable.save('u1', [], [pendingMessage('k1', { attempts: 2 })])
    durable.forgetDropped('u1')
    expect(durable.load('u1')).toEqual([])
    expect(storage.getItem(droppedStorageKey('u1'))).toBeNull()
    // The discards stay: a tab yet to hear may write it back after the next session's read back.
    expect(durable.discarded('u1').has('k1')).toBe(true)
    durable.save('u1', [], [pendingMessage('k2')])
    durable.clearIfDropped('u1')
    durable.forgetDropped('u1')
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k2'])
    expect(durable.load('u2')).toHaveLength(1)
  })

  test('a logout names every send it drops discarded, past the cap if need be, after the earlier discards', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    for (let i = 0; i < DISCARDS_KEPT; i++) durable.recordDiscard('u1', `d${i}`)
    durable.save('u1', [], [pendingMessage('k1'), pendingMessage('k2')])
    durable.clear('u1')
    const named = JSON.parse(storage.getItem(discardedStorageKey('u1'))!) as string[]
    expect(named).toHaveLength(DISCARDS_KEPT)
    expect(named.slice(-3)).toEqual([`d${DISCARDS_KEPT - 1}`, 'k1', 'k2'])
    durable.forgetDropped('u1')
    expect(durable.discarded('u1').has('k1')).toBe(true)
    const many = Array.from({ length: DISCARDS_KEPT + 5 }, (_, i) => pendingMessage(`m${i}`))
    durable.save('u1', [], many)
    durable.clear('u1')
    expect(JSON.parse(storage.getItem(discardedStorageKey('u1'))!)).toEqual(many.map((m) => m.clientId))
    // The next discard trims the list to the cap again.
    durable.recordDiscard('u1', 'x1')
    expect(JSON.parse(storage.getItem(discardedStorageKey('u1'))!)).toHaveLength(DISCARDS_KEPT)
  })
})

describe('sends the user discarded, named for the other tabs', () => {
  test('a send discarded in another tab is not written back by a tab that still holds it (a retry’s count)', () => {
    const storage = createMemoryStorage()
    const writer = createOutboxStorage(storage)
    const holder = createOutboxStorage(storage)
    writer.save('u1', [], [pendingMessage('b1')])
    holder.save('u1', [], [pendingMessage('x1')])
    writer.save('u1', [pendingMessage('b1')], [])
    writer.recordDiscard('u1', 'b1')
    holder.save('u1', [pendingMessage('x1')], [pendingMessage('x1'), pendingMessage('b1', { attempts: 1 })])
    expect(holder.load('u1').map((m) => m.clientId)).toEqual(['x1'])
  })

  test('a retried copy (pending, untried again) of a send discarded in another tab is not written back either', () => {
    const storage = createMemoryStorage()
    const writer = createOutboxStorage(storage)
    const holder = createOutboxStorage(storage)
    const failed = pendingMessage('b1', { status: 'failed', error: { code: 'FORBIDDEN', message: 'no' } })
    holder.save('u1', [], [failed])
    writer.save('u1', [], [])
    writer.recordDiscard('u1', 'b1')
    storage.removeItem(outboxStorageKey('u1'))
    holder.save('u1', [failed], [pendingMessage('b1')])
    expect(holder.load('u1')).toEqual([])
  })

  test('a send new to the tab (the hot path) does not look the discards up', () => {
    const storage = createMemoryStorage()
    const read = vi.spyOn(storage, 'getItem')
    createOutboxStorage(storage).save('u1', [], [pendingMessage('k1')])
    expect(read.mock.calls.map(([key]) => key)).toEqual([outboxStorageKey('u1')])
  })

  test('a send storage lost without a discard (another tab’s stale write) is written back: no tab loses it', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    durable.save('u1', [], [pendingMessage('k1')])
    // Another tab wrote what it read before k1 was stored.
    storage.setItem(outboxStorageKey('u1'), JSON.stringify([pendingMessage('b1')]))
    durable.recordDiscard('u1', 'someone-else')
    durable.save('u1', [pendingMessage('k1')], [pendingMessage('k1', { attempts: 1 })])
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['b1', 'k1'])
  })

  test('the latest discards are named, each once; a logout clears them with the outbox', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    for (let i = 0; i < DISCARDS_KEPT + 5; i++) durable.recordDiscard('u1', `k${i}`)
    const before = storage.getItem(discardedStorageKey('u1'))
    // Named already (a tab dropping it on hearing of the discard): nothing is written, so no tab hears of it again.
    durable.recordDiscard('u1', 'k7')
    expect(storage.getItem(discardedStorageKey('u1'))).toBe(before)
    const named = JSON.parse(storage.getItem(discardedStorageKey('u1'))!) as string[]
    expect(named).toHaveLength(DISCARDS_KEPT)
    expect(named.at(-1)).toBe(`k${DISCARDS_KEPT + 4}`)
    expect(named.filter((id) => id === 'k7')).toHaveLength(1)
    expect(durable.discarded('u1').has('k4')).toBe(false)
    expect(durable.discarded('u1').has('k8')).toBe(true)
    expect(durable.discarded('u2').size).toBe(0)
    durable.clear('u1')
    expect(storage.getItem(discardedStorageKey('u1'))).toBeNull()
  })

  test('unreadable or foreign data names nothing, and a full storage does not throw', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    storage.setItem(discardedStorageKey('u1'), '{not json')
    expect(durable.discarded('u1').size).toBe(0)
    storage.setItem(discardedStorageKey('u1'), JSON.stringify([1, 'k1', null]))
    expect([...durable.discarded('u1')]).toEqual(['k1'])
    const full = createOutboxStorage(refusingStorage(true).storage)
    expect(() => full.recordDiscard('u1', 'k1')).not.toThrow()
    expect(full.discarded('u1').size).toBe(0)
    // Unreadable (but writable): the list is left as it is, not written over with this discard alone.
    const backing = createMemoryStorage()
    backing.setItem(discardedStorageKey('u1'), JSON.stringify(['k1', 'k2']))
    const unreadable = createOutboxStorage({
      getItem: () => {
        throw new Error('SecurityError')
      },
      setItem: (key, value) => backing.setItem(key, value),
      removeItem: (key) => backing.removeItem(key),
    })
    unreadable.recordDiscard('u1', 'k3')
    expect(backing.getItem(discardedStorageKey('u1'))).toBe(JSON.stringify(['k1', 'k2']))
    expect(unreadable.discarded('u1').size).toBe(0)
  })
})

describe('a tab’s outbox mirror', () => {
  test('its first write (a session begun again) leaves out sends discarded elsewhere; a later new send looks nothing up', () => {
    const storage = createMemoryStorage()
    const discardReads = vi.fn()
    const watched = {
      ...storage,
      getItem: (key: string) => {
        if (key === discardedStorageKey('u1')) discardReads()
        return storage.getItem(key)
      },
    }
    const durable = createOutboxStorage(watched)
    const mirror = outboxMirror(durable)
    // The tab kept b1 (pending, never tried) through a new session of the same user; another tab discarded it meanwhile.
    durable.recordDiscard('u1', 'b1')
    discardReads.mockClear()
    mirror.restart()
    const kept = [pendingMessage('b1'), pendingMessage('k1')]
    expect(mirror.write('u1', kept)).toBe('written')
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1'])
    expect(discardReads).toHaveBeenCalledTimes(1)
    // The hot path: a send new to the tab, after its first write, reads no discards.
    expect(mirror.write('u1', [...kept, pendingMessage('k2')])).toBe('written')
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1', 'k2'])
    expect(discardReads).toHaveBeenCalledTimes(1)
  })

  test('writes a changed outbox once; the same outbox again writes nothing', () => {
    const storage = createMemoryStorage()
    const mirror = outboxMirror(createOutboxStorage(storage))
    const outbox = [pendingMessage('k1')]
    expect(mirror.write('u1', outbox)).toBe('written')
    storage.removeItem(outboxStorageKey('u1'))
    expect(mirror.write('u1', outbox)).toBe('unchanged')
    expect(storage.getItem(outboxStorageKey('u1'))).toBeNull()
  })

  test('a refused write says so once per streak, and the next change writes what was refused too', () => {
    const full = refusingStorage(true)
    const durable = createOutboxStorage(full.storage)
    const mirror = outboxMirror(durable)
    const one = [pendingMessage('k1')]
    const two = [pendingMessage('k1'), pendingMessage('k2')]
    expect(mirror.write('u1', one)).toBe('refused')
    expect(mirror.write('u1', one)).toBe('unchanged')
    expect(mirror.write('u1', two)).toBe('stillRefused')
    full.refusing = false
    const three = [...two, pendingMessage('k3')]
    expect(mirror.write('u1', three)).toBe('written')
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1', 'k2', 'k3'])
    full.refusing = true
    expect(mirror.write('u1', [pendingMessage('k4')])).toBe('refused')
  })

  test('after a restart, the outbox is written whole again', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    const mirror = outboxMirror(durable)
    const outbox = [pendingMessage('k1')]
    mirror.write('u1', outbox)
    storage.removeItem(outboxStorageKey('u1'))
    mirror.restart()
    expect(mirror.write('u1', outbox)).toBe('written')
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1'])
  })

  test('another tab’s write is news until the next gather, even once this tab’s own write has merged it in', () => {
    const storage = createMemoryStorage()
    const mine = outboxMirror(createOutboxStorage(storage))
    const other = outboxMirror(createOutboxStorage(storage))
    // Nothing gathered yet: whatever storage holds may be news.
    expect(mine.othersWrote('u1')).toBe(true)
    expect(mine.gather('u1')).toEqual([])
    expect(mine.othersWrote('u1')).toBe(false)
    // This tab's own writes are not news.
    mine.write('u1', [pendingMessage('a1')])
    expect(mine.othersWrote('u1')).toBe(false)
    other.write('u1', [pendingMessage('b1')])
    expect(mine.othersWrote('u1')).toBe(true)
    // Another tab's write that this tab's next write merges in stays news (the text then is this tab's own).
    const other2 = outboxMirror(createOutboxStorage(storage))
    mine.gather('u1')
    other2.write('u1', [pendingMessage('b2')])
    mine.write('u1', [pendingMessage('a1'), pendingMessage('a2')])
    expect(mine.othersWrote('u1')).toBe(true)
    expect(mine.gather('u1').map((m) => m.clientId)).toEqual(['a1', 'b1', 'b2', 'a2'])
    expect(mine.othersWrote('u1')).toBe(false)
    // Another user's outbox, or a restarted mirror, has not been gathered.
    expect(mine.othersWrote('u2')).toBe(true)
    mine.restart()
    expect(mine.othersWrote('u1')).toBe(true)
  })

  test('news is told by the stored text alone: no parse while nothing changed', () => {
    const storage = createMemoryStorage()
    const mirror = outboxMirror(createOutboxStorage(storage))
    mirror.gather('u1')
    mirror.write('u1', [pendingMessage('a1')])
    const parse = vi.spyOn(JSON, 'parse')
    try {
      expect(mirror.othersWrote('u1')).toBe(false)
      expect(parse).not.toHaveBeenCalled()
    } finally {
      parse.mockRestore()
    }
  })
})

describe('another version of the app writing the same key (two tabs across a deploy)', () => {
  /** Entries another version wrote that this one cannot read in full: sent or written back by it, something is lost. */
  const foreign = [
    { ...pendingMessage('n1'), replyTo: 'm9' },
    { ...pendingMessage('n2'), status: 'queued' },
    { clientId: 'n3', conversationId: 'c1', body: { text: 'hi' }, status: 'pending' },
    'n4',
  ]

  test('its entries that this version cannot read are neither loaded nor touched by saves; its own still work', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    storage.setItem(outboxStorageKey('u1'), JSON.stringify([...foreign, pendingMessage('k1')]))
    expect(durable.load('u1').map((m) => m.clientId)).toEqual(['k1'])
    durable.save('u1', [pendingMessage('k1')], [pendingMessage('k1', { attempts: 1 }), pendingMessage('k2')])
    expect(durable.load('u1').map((m) => `${m.clientId}:${m.attempts}`)).toEqual(['k1:1', 'k2:0'])
    durable.save('u1', [pendingMessage('k1', { attempts: 1 }), pendingMessage('k2')], [])
    expect(JSON.parse(storage.getItem(outboxStorageKey('u1'))!)).toEqual(foreign)
  })
})
