import { pipeline } from './shared.ts';

/** Delivery queue -> signed POST to the subscriber (partial batch failures). */
export const handler = pipeline.deliver;
