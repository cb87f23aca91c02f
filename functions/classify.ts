import { pipeline } from './shared.ts';

/** Ingest queue -> merge, derive, commit, project (partial batch failures). */
export const handler = pipeline.classify;
