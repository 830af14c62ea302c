import type { Db, Prepared } from '../db'

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

  constructor(
    private readonly db: Pick<Db, 'execute' | 'executeMany'>,
    private readonly statement: Prepared,
    private readonly maxBatch = 128,
  ) {}

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
      job.resolve(await this.db.execute<T>(this.statement, job.params))
    } catch (error) {
      job.reject(error)
    }
  }

  private async runBatch(batch: Job<T>[]): Promise<void> {
    this.batches++
    let results: T[][]
    try {
      results = await this.db.executeMany<T>(this.statement, batch.map((job) => job.params))
    } catch {
      for (const job of batch) await this.runAlone(job)
      return
    }
    batch.forEach((job, index) => job.resolve(results[index]!))
  }
}
