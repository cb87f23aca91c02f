import type { MessageQueue, SendOptions } from './message-queue.ts';

/** A queue that keeps every sent body in order, for tests and embedding. */
export class MemoryQueue implements MessageQueue {
  /** The bodies sent so far, oldest first. */
  readonly sent: string[] = [];
  /** The delay each sent body asked for (0 when none), in the order of `sent`. */
  readonly delays: number[] = [];
  /** The attributes each sent body carried ({} when none), in the order of `sent`. */
  readonly attributes: Record<string, string>[] = [];

  /** Appends the body to `sent`. */
  async send(body: string, options: SendOptions = {}): Promise<void> {
    this.sent.push(body);
    this.delays.push(options.delaySeconds ?? 0);
    this.attributes.push({ ...options.attributes });
  }

  /** Appends every body to `sent`, in order. */
  async sendBatch(bodies: readonly string[]): Promise<void> {
    this.sent.push(...bodies);
    this.delays.push(...bodies.map(() => 0));
    this.attributes.push(...bodies.map(() => ({})));
  }
}
