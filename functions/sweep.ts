import { pipeline } from './shared.ts';

/** EventBridge schedule -> queue the deliveries whose time has come. */
export const handler = async (): Promise<{ queued: number }> => pipeline.sweep();
