import { act, createElement } from 'react'
import { createRoot } from 'react-dom/client'
import { afterEach, expect } from 'vitest'

// A setup file of the SPA project (vitest.config.ts). Its files share their thread's React (`isolate: false`): an
// `act` whose callback returns a promise or thenable and is not awaited never closes its scope (React closes it in the
// thenable's `then`), and from then on every `act` in the thread is nested in it, so nothing it renders is ever
// committed. The test that did it passes; a later file in the thread finds its page empty, synchronously ("no live
// region") or for 15 s, in whichever file the run's timing put there. Failing here names the test that left it.
let leftBy: string | undefined
afterEach(() => {
  if (typeof document === 'undefined') return
  const probe = document.createElement('div')
  const root = createRoot(probe)
  act(() => root.render(createElement('i')))
  const rendered = probe.firstChild !== null
  act(() => root.unmount())
  if (rendered) return
  const first = leftBy === undefined
  leftBy ??= `${expect.getState().testPath} > ${expect.getState().currentTestName}`
  throw new Error(
    `${first ? 'this test' : `an earlier test (${leftBy})`} left a React act() scope open (an act whose callback ` +
      'returned a promise or thenable, not awaited): nothing renders in the later tests of this thread',
  )
})
