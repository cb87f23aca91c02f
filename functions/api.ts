import { handle } from 'hono/aws-lambda';
import { pipeline } from './shared.ts';

/** API Gateway HTTP API -> the Hono app. */
export const handler = handle(pipeline.app);
