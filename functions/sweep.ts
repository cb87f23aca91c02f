import { z } from 'zod';
import { createWorkers } from '../lib/workers.ts';
import { wiring } from './shared.ts';

const { sweep, ageContacts } = createWorkers(wiring);

/** The input of the daily EventBridge rule; the every-minute rule sends none of its own. */
const ageingInput = z.object({ task: z.literal('age-contacts') });

/**
 * EventBridge schedules -> every minute, queue the deliveries whose time has come; daily
 * (`{"task":"age-contacts"}`), queue a refresh of the contacts gone stale without an event.
 */
export const handler = async (event: unknown): Promise<{ queued: number }> =>
  ageingInput.safeParse(event).success ? ageContacts() : sweep();
