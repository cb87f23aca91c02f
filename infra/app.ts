import { readFileSync } from 'node:fs';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LeadstageStack } from './leadstage-stack.ts';

/**
 * The CDK app: one `Leadstage` stack. Optional context (`-c key=value`, or in cdk.json):
 *
 * - `configFile`: path of the deployment's config JSON, without `providers`
 *   (`-c configFile=leadstage.config.json`);
 * - `providersSecret`: name or complete ARN of the Secrets Manager secret holding the
 *   config's `providers` section as JSON (`-c providersSecret=leadstage/providers`);
 * - `alarmEmail`: an address subscribed to the alarm topic;
 * - `domainName` and `certificateArn`: a custom domain for the API and its ACM certificate
 *   (in the stack's region);
 * - `removalPolicy`: `retain` (the default: table, generated API key secret and logs outlive
 *   the stack, and the table has deletion protection) or `destroy` (a trial deployment).
 *
 * `cdk synth` and `cdk deploy` run the cdk-nag AwsSolutions checks and stop on any finding
 * that is not acknowledged in code (with its reason). See docs/deploy.md.
 */
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

if (app.node.tryGetContext('apiKeyHashes') !== undefined) {
  throw new Error(
    'The `apiKeyHashes` context is no longer read: API keys live in Secrets Manager. Deploy ' +
      'without it and print the key with the FetchApiKeyCommand output (docs/deploy.md).',
  );
}

const configFile = context('configFile');
const config = configFile === undefined ? undefined : JSON.parse(readFileSync(configFile, 'utf8'));

// Bound to an account and region only when the CLI knows both (it has credentials);
// otherwise, as in an offline `cdk synth`, the template is environment-agnostic.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new LeadstageStack(app, 'Leadstage', {
  env: account && region ? { account, region } : undefined,
  config,
  providersSecretId: context('providersSecret'),
  customDomainName: context('domainName'),
  certificateArn: context('certificateArn'),
  alarmEmail: context('alarmEmail'),
  removalPolicy: removalPolicyFrom(context('removalPolicy')),
});

function context(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function removalPolicyFrom(value: string | undefined): RemovalPolicy | undefined {
  if (value === undefined) return undefined;
  if (value === 'retain') return RemovalPolicy.RETAIN;
  if (value === 'destroy') return RemovalPolicy.DESTROY;
  throw new Error(`The \`removalPolicy\` context must be "retain" or "destroy", got "${value}"`);
}
