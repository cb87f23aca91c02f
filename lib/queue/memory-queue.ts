import type { MessageQueue } from './message-queue.ts';

/** A queue that keeps every sent body in order, for tests and embedding. */
export class MemoryQueue implements MessageQueue {
  /** The bodies sent so far, oldest first. */
  readonly sent: string[] = [];

  /** Appends the body to `sent`. */
  async send(body: string): Promise<void> {
    this.sent.push(body);
  }

  /** Appends every body to `sent`, in order. */
  async sendBatch(bodies: readonly string[]): Promise<void> {
    this.sent.push(...bodies);
  }
}
