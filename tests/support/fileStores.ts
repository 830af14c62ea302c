// What disposes each store `trackedStore` left to its file's end, and the setup file's `afterAll` that runs them.
// Apart from trackedStores.ts on purpose: the setup file imports this before each file's own code, and importing the
// store from there would load Redux Toolkit ahead of what a file sets up for it first (devTools.test.ts's extension).
// Kept on `globalThis`: a file that resets its modules (`vi.resetModules`) gets a new copy of this module, not of this set.

const key = Symbol.for('talemy.tests.fileStores')
const shared = globalThis as { [key]?: Set<() => void> }

/** The disposals of the stores made outside a test, or asked to live until their file ends, not disposed yet. */
export const fileStores: Set<() => void> = (shared[key] ??= new Set())

/** Disposes the stores left to their file's end (`trackedStores.setup.ts`'s `afterAll`). */
export function disposeFileStores(): void {
  for (const dispose of [...fileStores]) dispose()
}
