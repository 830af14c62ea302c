import { createMemoryStorage, type StorageLike } from '../../../src/app/store'

/**
 * A Web Storage that refuses writes (as a full or disabled one: `QuotaExceededError`) while `refusing` is set; reads
 * and removals always go. `backing` is what it holds.
 *
 * @example const s = refusingStorage(true); s.storage.setItem('k', 'v') // throws; s.refusing = false
 */
export function refusingStorage(refusing: boolean) {
  const backing = createMemoryStorage()
  const state = {
    refusing,
    backing,
    storage: {
      getItem: (key) => backing.getItem(key),
      removeItem: (key) => backing.removeItem(key),
      setItem: (key, value) => {
        if (state.refusing) throw new Error('QuotaExceededError')
        backing.setItem(key, value)
      },
    } satisfies StorageLike as StorageLike,
  }
  return state
}
