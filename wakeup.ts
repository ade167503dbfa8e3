/**
 * A nudge to a part that may be created later than its callers (the task runner, the dispatcher):
 * the composition root makes one first, the part subscribes when it exists, callers only `wake()`.
 * This replaces forward references between parts.
 */
export class Wakeup {
  readonly #listeners: Array<() => void> = []

  on(listener: () => void): void {
    this.#listeners.push(listener)
  }

  wake(): void {
    for (const listener of this.#listeners) listener()
  }
}
