import type { Db, Prepared, Queryable } from '../db'

export interface SendBatcherOptions {
  /** Most runs in one transaction. Default 128. */
  maxBatch?: number
  /**
   * Given a batch's parameter lists, what to run first in its transaction (taking row locks in a fixed order). When
   * set, a lone run goes in a transaction too.
   */
  lockFirst?: (paramLists: unknown[][]) => (tx: Queryable) => Promise<void>
}

interface Job<T> {
  params: unknown[]
  resolve: (rows: T[]) => void
  reject: (error: unknown) => void
}

/**
 * Group commit for one prepared statement: runs submitted in the same turn of the event loop (and, while a commit is
 * in flight, until it ends) are stored in one transaction, in submission order, and each caller's promise settles
 * only after that transaction committed — durability per send is unchanged, the commit's cost is shared.
 *
 * A single run goes alone (autocommit, no BEGIN/COMMIT). When a batch fails, nothing of it was kept: its runs are
 * retried one by one, in the same order, so a bad run fails only its own caller.
 */
export class SendBatcher<T> {
  private queue: Job<T>[] = []
  private scheduled = false
  private running = false

  private readonly maxBatch: number
  private readonly lockFirst: SendBatcherOptions['lockFirst']

  constructor(
    private readonly db: Pick<Db, 'execute' | 'executeMany'>,
    private readonly statement: Prepared,
    options: SendBatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 128
    this.lockFirst = options.lockFirst
  }

  /** Number of batches run (with more than one submission), for tests. */
  batches = 0

  submit(params: unknown[]): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      this.queue.push({ params, resolve, reject })
      this.schedule()
    })
  }

  /** After the I/O callbacks of this turn (every socket read that arrived together), not in the middle of them. */
  private schedule(): void {
    if (this.scheduled || this.running) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.drain()
    })
  }

  private async drain(): Promise<void> {
    this.running = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch)
        if (batch.length === 1) await this.runAlone(batch[0]!)
        else await this.runBatch(batch)
      }
    } finally {
      this.running = false
    }
  }

  private async runAlone(job: Job<T>): Promise<void> {
    try {
      job.resolve(
        this.lockFirst
          ? (await this.db.executeMany<T>(this.statement, [job.params], { before: this.lockFirst([job.params]) }))[0]!
          : await this.db.execute<T>(this.statement, job.params),
      )
    } catch (error) {
      job.reject(error)
    }
  }

  private async runBatch(batch: Job<T>[]): Promise<void> {
    this.batches++
    let results: T[][]
    try {
      const paramLists = batch.map((job) => job.params)
      results = await this.db.executeMany<T>(this.statement, paramLists, { before: this.lockFirst?.(paramLists) })
    } catch {
      for (const job of batch) await this.runAlone(job)
      return
    }
    batch.forEach((job, index) => job.resolve(results[index]!))
  }
}
