/**
 * Group commit: items added while a write is in flight wait for the next write and go together,
 * so under load one commit (one fsync) stores many updates and a quiet moment costs no delay at all.
 * At most `parallel` writes run at once, each with at most `maxBatch` items.
 */
export class GroupCommit<I, O> {
  readonly #write: (items: I[]) => Promise<O[]>
  readonly #maxBatch: number
  readonly #parallel: number
  #waiting: Array<{ item: I; resolve: (out: O) => void; reject: (err: unknown) => void }> = []
  #inFlight = 0
  #idle: Array<() => void> = []

  /** `write` stores the items and returns one result per item, in order; throwing fails them all. */
  constructor(write: (items: I[]) => Promise<O[]>, opts: { maxBatch: number; parallel: number }) {
    this.#write = write
    this.#maxBatch = opts.maxBatch
    this.#parallel = opts.parallel
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject })
      this.#next()
    })
  }

  /** Items added and not yet written (for metrics). */
  get waiting(): number {
    return this.#waiting.length
  }

  /** Resolves when nothing is waiting or being written. */
  settled(): Promise<void> {
    if (this.#inFlight === 0 && this.#waiting.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #next(): void {
    while (this.#inFlight < this.#parallel && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#maxBatch)
      this.#inFlight++
      this.#write(batch.map((w) => w.item))
        .then(
          (outs) => batch.forEach((w, i) => w.resolve(outs[i] as O)),
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.#inFlight--
          this.#next()
          if (this.#inFlight === 0 && this.#waiting.length === 0) for (const resolve of this.#idle.splice(0)) resolve()
        })
    }
  }
}
