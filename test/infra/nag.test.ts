import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { Leadstage } from '../../infra/leadstage.ts';
import { LeadstageStack, type LeadstageStackProps } from '../../infra/leadstage-stack.ts';

/**
 * cdk-nag 3 runs as a CDK policy-validation plugin (no Aspects, no Annotations): a finding is
 * a violation in the plugin's report, with severity `error` or `warning`, and a finding is
 * accepted with `Validations.of(construct).acknowledge({ id, reason })` in infra/leadstage.ts.
 * These tests fail on any finding of either severity that is not acknowledged.
 */

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function newApp(): App {
  const outdir = mkdtempSync(join(tmpdir(), 'leadstage-nag-test-'));
  tempDirs.push(outdir);
  // Bundling skipped: the rules read the templates' resources, not the function code.
  return new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
}

/** Every finding of the AwsSolutions pack on the stack, as "rule (severity) at path" lines. */
function findings(stack: Stack): string[] {
  // Synthesize first, so every lazily added resource and policy statement exists.
  Template.fromStack(stack);
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map(
      (resource) =>
        `${violation.ruleName} (${violation.severity}) at ${
          (resource as { constructPath?: string }).constructPath ?? resource.resourceLogicalId
        }`,
    ),
  );
}

const FULL: LeadstageStackProps = {
  config: { forms: [{ id: 'contact' }] },
  providersSecretId: 'leadstage/providers',
  customDomainName: 'leads.example.com',
  certificateArn:
    'arn:aws:acm:eu-central-1:123456789012:certificate/0e4b1f5c-1111-2222-3333-444455556666',
  alarmEmail: 'ops@example.com',
  workerConcurrency: { classify: 5, deliver: 20 },
  retrySchedule: [5, 300],
  throttle: { rateLimit: 50, burstLimit: 100 },
};

describe('cdk-nag AwsSolutions checks', () => {
  it('finds nothing unacknowledged, error or warning, in the default stack', () => {
    const stack = new LeadstageStack(newApp(), 'Leadstage');
    expect(findings(stack)).toEqual([]);
  });

  it('finds nothing unacknowledged with every option set (providers secret by name, custom domain)', () => {
    const stack = new LeadstageStack(newApp(), 'Leadstage', FULL);
    expect(findings(stack)).toEqual([]);
  });

  it('finds nothing unacknowledged with a providers secret by complete ARN and DESTROY', () => {
    const stack = new LeadstageStack(newApp(), 'Leadstage', {
      providersSecretId:
        'arn:aws:secretsmanager:eu-central-1:123456789012:secret:leadstage/providers-AbCdEf',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    expect(findings(stack)).toEqual([]);
  });

  it('finds nothing unacknowledged for two pipelines in one host stack', () => {
    const stack = new Stack(newApp(), 'Host');
    new Leadstage(stack, 'Blue');
    new Leadstage(stack, 'Green');
    expect(findings(stack)).toEqual([]);
  });

  it('acknowledges only the accepted findings, each with a reason', () => {
    const stack = new LeadstageStack(newApp(), 'Leadstage', FULL);
    Template.fromStack(stack);
    const acknowledged = new Map<string, string>();
    const visit = (construct: IConstruct) => {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          acknowledged.set(id.replace(/^annotation::/i, ''), reason);
        }
      }
      for (const child of construct.node.children) visit(child);
    };
    visit(stack);
    const rules = [...acknowledged.keys()].map((id) => id.replace(/\[.*$/, ''));
    expect([...new Set(rules)].sort()).toEqual([
      'AwsSolutions-APIG4',
      'AwsSolutions-IAM5',
      'AwsSolutions-L1',
      'AwsSolutions-SMG4',
    ]);
    for (const id of acknowledged.keys()) {
      if (id.startsWith('AwsSolutions-IAM5')) {
        // Only the table's indexes and a secret imported by name: never a wildcard action.
        expect(id).toMatch(/^AwsSolutions-IAM5\[Resource::.*(\/index\/\*|-\?{6})\]$/);
      }
    }
    for (const reason of acknowledged.values()) expect(reason.length).toBeGreaterThan(40);
  });

  it('fails synthesis of the CDK app on an unacknowledged finding (the plugin is registered as in infra/app.ts)', () => {
    const app = newApp();
    const stack = new LeadstageStack(app, 'Leadstage');
    // A finding nobody acknowledged: a queue without a DLQ and without TLS enforcement.
    new Queue(stack, 'Stray');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
    // And the direct check the other tests use reports exactly the stray queue's findings.
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((violation) => violation.ruleName).sort()).toEqual([
      'AwsSolutions-SQS3',
      'AwsSolutions-SQS4',
    ]);
  });

  it('lets the CDK app with the plugin synthesize the Leadstage stack', () => {
    const app = newApp();
    new LeadstageStack(app, 'Leadstage', FULL);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
