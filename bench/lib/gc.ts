import v8 from 'node:v8'
import vm from 'node:vm'

/** `global.gc` without requiring `--expose-gc` on the command line. */
function obtainGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc
  if (existing) return existing
  v8.setFlagsFromString('--expose_gc')
  return vm.runInNewContext('gc') as () => void
}

const gc = obtainGc()

/** Heap in use after full collections (several passes, with a turn of the event loop between, so finalizers run). */
export async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}
