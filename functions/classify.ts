import { createWorkers } from '../lib/workers.ts';
import { wiring } from './shared.ts';

/** Ingest queue -> merge, derive, commit, project (partial batch failures). */
export const handler = createWorkers(wiring).classify;
