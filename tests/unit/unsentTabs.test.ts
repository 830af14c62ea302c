import { describe, expect, test } from 'vitest'
import { unsentInTabs } from '../../src/app/unsentTabs'
import { createMemoryChannelBus } from '../../src/realtime/tabs/memoryChannel'
import { createMemoryTabLock } from '../../src/realtime/tabs/tabLock'
import { tabLockName, tabPageWatch } from '../../src/realtime/tabs/tabsLink'
import { alice } from './support/fixtures'

// The unsent sends the user's other tabs hold in their memory alone, as one tab counts them (`heldElsewhere`), when the
// tab holding them crashes: the browser frees its page lock; what it posted just before may reach this tab after that.

/** Queues of what is delivered, run by the test in the order it chooses (the channel's and the lock's are apart). */
function queue() {
  const waiting: (() => void)[] = []
  return {
    deliver: (fn: () => void) => void waiting.push(fn),
    run() {
      while (waiting.length > 0) waiting.shift()!()
    },
  }
}

describe('a tab that crashes right after telling what it holds', () => {
  test('its last word, heard after its page lock was freed, does not bring it back into the count', () => {
    const posts = queue()
    const grants = queue()
    const bus = createMemoryChannelBus({ deliver: posts.deliver })
    const locks = createMemoryTabLock({ deliver: grants.deliver })
    const tabs = { channelName: 'x', lock: locks.tab('here') }
    const here = unsentInTabs(bus.channel(), { tabId: 'here', watchTab: tabPageWatch(tabs) })
    const there = bus.channel()
    locks.tab('there').request(tabLockName('x', 'there'), { steal: false }, { onAcquired() {}, onLost() {} })
    grants.run()
    there.post({ kind: 'unsaved', from: 'there', userId: alice.id, clientIds: ['k1'] })
    posts.run()
    grants.run()
    expect(here.heldElsewhere(alice.id)).toEqual(new Set(['k1']))

    // It writes a second one, says so, and crashes: the browser frees its lock before its word reaches this tab.
    there.post({ kind: 'unsaved', from: 'there', userId: alice.id, clientIds: ['k1', 'k2'] })
    locks.closeTab('there')
    grants.run()
    posts.run()
    grants.run()
    expect(here.heldElsewhere(alice.id)).toEqual(new Set())
    here.close()
  })
})
