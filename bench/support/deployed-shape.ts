/**
 * The deployed shape, read from the CDK construct itself (infra/leadstage.ts) rather than
 * copied by hand: each function's memory size, its SQS event source's batch size and
 * batching window, and the exact bundling options its NodejsFunction passes to CDK's
 * esbuild bundler. The construct is synthesized with asset bundling skipped; the bundling
 * options are captured on their way into CDK's `Bundling.bundle`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import {
  type CfnEventSourceMapping,
  type CfnFunction,
  EventSourceMapping,
} from 'aws-cdk-lib/aws-lambda';
import { Leadstage } from '../../infra/leadstage.ts';

export type FunctionName = 'api' | 'classify' | 'deliver' | 'sweep';

export interface DeployedFunction {
  name: FunctionName;
  memoryMb: number;
  /** The SQS event source, for the queue consumers. */
  eventSource?: { batchSize: number; batchingWindowSeconds: number };
  /** What the NodejsFunction handed to CDK's bundler (entry, minify, format, banner, ...). */
  bundlingOptions: Record<string, unknown>;
}

interface BundlingClass {
  bundle(scope: unknown, options: Record<string, unknown>): unknown;
  new (
    scope: unknown,
    options: Record<string, unknown>,
  ): { local?: { tryBundle(outputDir: string, options: unknown): boolean } };
}

const require = createRequire(import.meta.url);
/** CDK's own bundler class: the module instance the NodejsFunction construct uses. */
export const CdkBundling: BundlingClass = require(
  join(dirname(require.resolve('aws-cdk-lib/aws-lambda-nodejs')), 'lib', 'bundling.js'),
).Bundling;

/** Synthesizes the construct (no bundling) and reads the functions' settings off it. */
export function readDeployedShape(): { functions: DeployedFunction[]; scope: unknown } {
  const captured = new Map<string, { scope: unknown; options: Record<string, unknown> }>();
  const original = CdkBundling.bundle;
  CdkBundling.bundle = (scope, options) => {
    captured.set(String(options.entry), { scope, options });
    return original.call(CdkBundling, scope, options);
  };
  let construct: Leadstage;
  try {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    construct = new Leadstage(new Stack(app, 'BenchShape'), 'Leadstage');
  } finally {
    CdkBundling.bundle = original;
  }
  let scope: unknown;
  const functions = (
    Object.entries(construct.functions) as [FunctionName, typeof construct.functions.api][]
  ).map(([name, fn]) => {
    const cfn = fn.node.defaultChild as CfnFunction;
    const mapping = fn.node.findAll().find((child) => child instanceof EventSourceMapping)?.node
      .defaultChild as CfnEventSourceMapping | undefined;
    const bundled = [...captured.values()].find((entry) =>
      String(entry.options.entry).endsWith(join('functions', `${name}.ts`)),
    );
    if (bundled === undefined) throw new Error(`no bundling options captured for ${name}`);
    scope = bundled.scope;
    return {
      name,
      memoryMb: Number(cfn.memorySize),
      ...(mapping
        ? {
            eventSource: {
              batchSize: Number(mapping.batchSize),
              batchingWindowSeconds: Number(mapping.maximumBatchingWindowInSeconds ?? 0),
            },
          }
        : {}),
      bundlingOptions: bundled.options,
    };
  });
  return { functions, scope };
}
