import type { Id } from '../../src/contract'

/**
 * How many sockets each user holds, with a cap. `tryAcquire` takes a slot or answers undefined when the user is at
 * the cap; the release it returns is idempotent, so it can be wired to every way a socket can end.
 *
 * @example const release = slots.tryAcquire(userId); if (!release) refuse(); else socket.once('disconnect', release)
 */
export class SocketSlots {
  private readonly held = new Map<Id, number>()

  constructor(private readonly max: number) {}

  tryAcquire(userId: Id): (() => void) | undefined {
    const count = this.held.get(userId) ?? 0
    if (count >= this.max) return undefined
    this.held.set(userId, count + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.held.get(userId) ?? 1) - 1
      if (left > 0) this.held.set(userId, left)
      else this.held.delete(userId)
    }
  }

  count(userId: Id): number {
    return this.held.get(userId) ?? 0
  }

  counts(userIds: readonly Id[]): number[] {
    return userIds.map((userId) => this.count(userId))
  }
}
