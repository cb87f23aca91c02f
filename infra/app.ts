import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { LeadstageStack } from './leadstage-stack.ts';

/**
 * The CDK app: one `Leadstage` stack. Optional context:
 *
 * - `apiKeyHashes`: SHA-256 hex digests of the accepted API keys, comma-separated
 *   (`-c apiKeyHashes=<hex>,<hex>`) or a list in cdk.json;
 * - `configFile`: path of the deployment's config JSON (`-c configFile=leadstage.config.json`).
 */
const app = new App();

const apiKeyHashes = listFromContext(app.node.tryGetContext('apiKeyHashes'));
const configFile: unknown = app.node.tryGetContext('configFile');
const config =
  typeof configFile === 'string' && configFile !== ''
    ? JSON.parse(readFileSync(configFile, 'utf8'))
    : undefined;

// Bound to an account and region only when the CLI knows both (it has credentials);
// otherwise, as in an offline `cdk synth`, the template is environment-agnostic.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new LeadstageStack(app, 'Leadstage', {
  env: account && region ? { account, region } : undefined,
  apiKeyHashes,
  config,
});

function listFromContext(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) return value.map(String);
  return String(value).split(',');
}
