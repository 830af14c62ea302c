import { describe, expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { createOutboxStorage, outboxStorageKey } from '../../src/realtime'
import { outboxMirror } from '../../src/realtime/outboxStorage'
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

  test('clear removes the user only', () => {
    const storage = createMemoryStorage()
    const durable = createOutboxStorage(storage)
    durable.save('u1', [], [pendingMessage('k1')])
    durable.save('u2', [], [pendingMessage('k2')])
    durable.clear('u1')
    expect(durable.load('u1')).toEqual([])
    expect(durable.load('u2')).toHaveLength(1)
  })
})

describe('a tab’s outbox mirror', () => {
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
})
