import { handle } from 'hono/aws-lambda';
import { createPipeline } from '../lib/pipeline.ts';
import { wiring } from './shared.ts';

/** API Gateway HTTP API -> the Hono app. */
export const handler = handle(createPipeline(wiring).app);
