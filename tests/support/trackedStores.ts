import { onTestFinished, TestRunner } from 'vitest'
import { type AppStore, type MakeStoreOptions, makeStore } from '../../src/app/store'
import { fileStores } from './fileStores'

// The unit and SPA files share their worker thread (vitest.config.ts, `isolate: false`). A store nobody disposes keeps
// its timer chains going for the rest of the thread: the fallback reads' turn (every 15 s, HTTP reads to a stub that
// is gone, or to whatever server took its port since) and the lease lock's renewal (every ~3.3 s). They re-arm on the
// global `setTimeout` at each turn, so in a later file that fakes timers they land on its fake clock — the failure
// socketActionBypass.test.ts once met ('socket/joinFailed: expected 1 to be +0'). A store made here is disposed when
// the test that made it ends, and one made outside a test or asked to live on, when its file ends
// (`trackedStores.setup.ts`, a setup file of both projects, and `fileStores.ts`).

type Until = 'test' | 'file'

/**
 * `makeStore(options)`, disposed when the test that made it ends (after its `afterEach` hooks: a page they unmount is
 * gone first). Made outside a test (the file's body, a `describe`, a `beforeAll`), or with `until: 'file'` (a store
 * later tests of the file go on using), it is disposed when its file ends. A store the test disposed itself is not
 * disposed again; its own `dispose` still does all it did, each time it is called.
 *
 * @example const store = trackedStore({ apiUrl: stub.url, createSocket: sockets.createSocket })
 */
export function trackedStore(options?: MakeStoreOptions, { until = 'test' }: { until?: Until } = {}): AppStore {
  const store = makeStore(options)
  const own = store.dispose
  const forget = disposeWithTest(own, { until })
  store.dispose = () => {
    forget()
    own()
  }
  return store
}

/**
 * Runs `dispose` once, when the test calling this ends, or when its file ends if called outside a test or with
 * `until: 'file'`: for a store a test builds with the socket middleware itself, `() => store.dispatch(shutdown())`.
 * Returns what forgets it (the test disposed the store itself).
 *
 * @example disposeWithTest(() => store.dispatch(shutdown()))
 */
export function disposeWithTest(dispose: () => void, { until = 'test' }: { until?: Until } = {}): () => void {
  let due = true
  const once = () => {
    fileStores.delete(once)
    if (!due) return
    due = false
    dispose()
  }
  if (until === 'test' && TestRunner.getCurrentTest()) onTestFinished(once)
  else fileStores.add(once)
  return () => {
    due = false
    fileStores.delete(once)
  }
}
