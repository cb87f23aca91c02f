import { isAgeingTask } from '../lib/classify/age-contacts.ts';
import { createWorkers } from '../lib/workers.ts';
import { wiring } from './shared.ts';

const { sweep, ageContacts } = createWorkers(wiring);

/**
 * EventBridge schedules -> every minute, queue the deliveries whose time has come (and carry
 * on a re-key walk); daily (`AGEING_TASK` as the input), queue a refresh of the contacts whose
 * flags time has moved.
 */
export const handler = async (event: unknown): Promise<Record<string, number | boolean>> =>
  isAgeingTask(event) ? ageContacts() : sweep();
