/**
 * FIFO mutual exclusion per key. `run` queues synchronously, so callers that enter in a given order
 * run in that order even if each awaits before touching the database.
 *
 * @example await sends.run(conversationId, () => storeMessage(...))
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>()

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    const result = previous.then(fn)
    const tail = result.then(
      () => undefined,
      () => undefined,
    )
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }
}
