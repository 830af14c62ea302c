/** What the ledger needs of a tab's store. */
export interface Watchable<S> {
  subscribe(listener: () => void): () => void
  getState(): S
}

export interface ExactlyOnce<S> {
  /** `tag`'s message is on its way to these tabs: from now on, each may show it at most once. */
  expect(tag: string, tabs: readonly { id: string; store: Watchable<S> }[]): void
  /** `tag`'s message was seen in every tab it was expected in: from now on, each must show it exactly once. */
  arrived(tag: string): void
  /** A tab closes: its window ends (read one last time, then no more). */
  leave(id: string): void
  /** The window ends for every tab still watched: the tags whose message some tab showed other than exactly once. */
  end(): string[]
}

interface Watch<S> {
  store: Watchable<S>
  /** Each tag expected in this tab, and whether it has arrived (everywhere). */
  tags: Map<string, { arrived: boolean }>
  /** The thread as last read: a notification that left it as it was changes nothing. */
  thread: unknown
  off: () => void
}

const countIn = (thread: readonly { content: string }[] | undefined, tag: string) =>
  (thread ?? []).filter((m) => m.content === tag).length

/**
 * Exactly once over a window, not at one moment: a copy that comes after the message was first seen (a replay after
 * a handoff) or a message that goes away again shows in a tab as much as a missing one does. Each tab's thread is
 * read on every store notification (only when it changed), from `expect` until the tab leaves or `end`; the figure
 * ends the window on an event (a later message seen in every tab), never after a time.
 *
 * @example const ledger = exactlyOnceLedger(threadOf); ledger.expect(tag, tabs); …; ledger.arrived(tag); ledger.end()
 */
export function exactlyOnceLedger<S>(
  threadOf: (state: S) => readonly { content: string }[] | undefined,
): ExactlyOnce<S> {
  const watches = new Map<string, Watch<S>>()
  const bad = new Set<string>()

  const read = (watch: Watch<S>, always = false) => {
    const thread = threadOf(watch.store.getState())
    if (!always && thread === watch.thread) return
    watch.thread = thread
    for (const [tag, { arrived }] of watch.tags) {
      const n = countIn(thread, tag)
      if (n > 1 || (arrived && n !== 1)) bad.add(tag)
    }
  }

  return {
    expect(tag, tabs) {
      for (const { id, store } of tabs) {
        let watch = watches.get(id)
        if (!watch) {
          const w: Watch<S> = { store, tags: new Map(), thread: undefined, off: () => {} }
          w.off = store.subscribe(() => read(w))
          watches.set(id, (watch = w))
        }
        watch.tags.set(tag, { arrived: false })
        read(watch, true)
      }
    },
    arrived(tag) {
      for (const watch of watches.values()) {
        const entry = watch.tags.get(tag)
        if (!entry) continue
        entry.arrived = true
        read(watch, true)
      }
    },
    leave(id) {
      const watch = watches.get(id)
      if (!watch) return
      read(watch)
      watch.off()
      watches.delete(id)
    },
    end() {
      for (const id of [...watches.keys()]) this.leave(id)
      return [...bad]
    },
  }
}
