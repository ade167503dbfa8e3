/**
 * A value read at most once per `ttlMs`: callers within that time share one read (also while it is
 * in flight). A failed read is not kept, and `drop()` forces the next call to read again.
 */
export function cachedFor<T>(ttlMs: number, read: () => Promise<T>): { get(): Promise<T>; drop(): void } {
  let held: { at: number; value: Promise<T> } | undefined
  return {
    get() {
      const now = Date.now()
      if (!held || now - held.at > ttlMs) {
        const value = read()
        const entry = { at: now, value }
        value.catch(() => {
          if (held === entry) held = undefined
        })
        held = entry
      }
      return held.value
    },
    drop() {
      held = undefined
    },
  }
}
