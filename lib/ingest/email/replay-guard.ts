import type { ReplayGuard } from './types.ts';

/**
 * An in-memory replay guard with expiry, bounded in size: the oldest entries go first when
 * it is full (they are the closest to expiring anyway).
 */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  firstUse(key: string, ttlMs: number): boolean {
    const now = this.#now();
    const expiresAt = this.#seen.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now + ttlMs);
    while (this.#seen.size > this.#maxEntries) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
    return true;
  }

  release(key: string): void {
    this.#seen.delete(key);
  }
}
