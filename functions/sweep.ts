import { createWorkers } from '../lib/workers.ts';
import { wiring } from './shared.ts';

const { sweep } = createWorkers(wiring);

/** EventBridge schedule -> queue the deliveries whose time has come. */
export const handler = async (): Promise<{ queued: number }> => sweep();
