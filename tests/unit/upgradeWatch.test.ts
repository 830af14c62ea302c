import { EventEmitter } from 'node:events'
import { describe, expect, test } from 'vitest'
import { watchStalledUpgrade } from '../../src/realtime/upgradeWatch'

/** A manager and its engine as Socket.IO's client has them: `open` on the manager, the upgrade's events on the engine. */
function fakeManager() {
  const manager = Object.assign(new EventEmitter(), { engine: undefined as EventEmitter | undefined })
  const open = () => {
    manager.engine = new EventEmitter()
    manager.emit('open')
    return manager.engine
  }
  return { manager, open }
}

function watched() {
  const { manager, open } = fakeManager()
  let stalls = 0
  const unwatch = watchStalledUpgrade(manager, () => stalls++)
  return { manager, open, unwatch, stalls: () => stalls }
}

describe('watchStalledUpgrade', () => {
  // What one engine says, in order (`close`: its readyState becomes `closed`), and the stalls reported after each.
  test.each<[string, string[], number[]]>([
    [
      'a WebSocket that failed after answering the probe (polling paused for it) is a stall, said once',
      ['upgrading', 'upgradeError', 'upgradeError'],
      [0, 1, 1],
    ],
    ['a probe that fails before it is answered is not: polling goes on', ['upgradeError'], [0]],
    [
      'nor is a connection that closed during its upgrade (its socket may be trying again already)',
      ['upgrading', 'close', 'upgradeError'],
      [0, 0, 0],
    ],
    ['an upgrade that completed is not, whatever comes after', ['upgrading', 'upgrade', 'upgradeError'], [0, 0, 0]],
  ])('%s', (_name, said, expected) => {
    const { open, stalls } = watched()
    const engine = Object.assign(open(), { readyState: 'open' })
    const after = said.map((event) => {
      if (event === 'close') engine.readyState = 'closed'
      else engine.emit(event, ...(event === 'upgradeError' ? [new Error('probe error')] : []))
      return stalls()
    })
    expect(after).toEqual(expected)
  })

  test("each connection's engine is watched, the earlier one no longer", () => {
    const { open, stalls } = watched()
    const first = open()
    first.emit('upgrading')
    const second = open()
    first.emit('upgradeError', new Error('old engine'))
    expect(stalls()).toBe(0)
    second.emit('upgrading')
    second.emit('upgradeError', new Error('new engine'))
    expect(stalls()).toBe(1)
  })

  test('an engine already open when the watch begins is watched', () => {
    const { manager, open } = fakeManager()
    const engine = open()
    let stalls = 0
    watchStalledUpgrade(manager, () => stalls++)
    engine.emit('upgrading')
    engine.emit('upgradeError', new Error('probe error'))
    expect(stalls).toBe(1)
  })

  test('the teardown removes every listener it added', () => {
    const { manager, open, unwatch } = watched()
    const engine = open()
    unwatch()
    expect(manager.listenerCount('open')).toBe(0)
    for (const event of ['upgrading', 'upgrade', 'upgradeError']) expect(engine.listenerCount(event)).toBe(0)
  })
})
