import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { settingsFromLambdaEnv } from '../lib/config/settings.ts';
import { jsonLogger } from '../lib/observability/logger.ts';
import type { WorkerOptions } from '../lib/workers.ts';

const secrets = new SecretsManagerClient({});

async function readSecret(secretId: string): Promise<string> {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
  return SecretString;
}

/**
 * Built once per Lambda cold start (module scope, awaited before the first invocation):
 * settings from the environment and the secrets it names, SDK clients reused across
 * invocations. Each function wires only its own part from it (lib/workers.ts or
 * lib/pipeline.ts), so a worker's bundle carries no HTTP API.
 */
export const wiring: WorkerOptions = {
  settings: await settingsFromLambdaEnv(process.env, readSecret),
  clients: { dynamo: new DynamoDBClient({}), sqs: new SQSClient({}) },
  logger: jsonLogger('info', { function: process.env.AWS_LAMBDA_FUNCTION_NAME }),
};
