import { createWorkers } from '../lib/workers.ts';
import { wiring } from './shared.ts';

/** Delivery queue -> signed POST to the subscriber (partial batch failures). */
export const handler = createWorkers(wiring).deliver;
