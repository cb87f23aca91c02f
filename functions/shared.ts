import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { settingsFromLambdaEnv } from '../lib/config/settings.ts';
import { jsonLogger } from '../lib/observability/logger.ts';
import { createPipeline } from '../lib/pipeline.ts';

/**
 * Built once per Lambda cold start (module scope): settings parsed from the environment,
 * SDK clients reused across invocations.
 */
export const pipeline = createPipeline({
  settings: settingsFromLambdaEnv(process.env),
  clients: { dynamo: new DynamoDBClient({}), sqs: new SQSClient({}) },
  logger: jsonLogger('info', { function: process.env.AWS_LAMBDA_FUNCTION_NAME }),
});
