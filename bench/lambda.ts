/**
 * Lambda figures: each function bundled exactly as CDK bundles it for deployment (CDK's own
 * esbuild bundler, fed the options the NodejsFunction constructs in infra/leadstage.ts pass
 * it), next to a hello-world handler bundled the same way. Prints minified and gzipped
 * bytes, and module init time: a fresh `node` process importing the bundle, median of N.
 *
 * Init time is module evaluation only, with no network: the functions build their SDK
 * clients and settings at import, and the api function would also fetch its API keys from
 * Secrets Manager; the environment given here names no secret, so that round trip (one
 * GetSecretValue per secret, per cold start) is excluded, as are the Lambda runtime's own
 * start and the first SDK request's credential and endpoint resolution.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { CdkBundling, readDeployedShape } from './support/deployed-shape.ts';

export interface LambdaFigure {
  name: string;
  memoryMb?: number;
  bytes: number;
  gzipBytes: number;
  initMs: number;
}

/** The environment a deployed function has (fake values; nothing is called). */
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  TABLE_NAME: 'leadstage',
  INGEST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/ingest',
  DELIVERY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/delivery',
  INGEST_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/ingest-dlq',
  DELIVERY_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/delivery-dlq',
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Milliseconds from the start of `import()` to its end, in a fresh process. */
function initTime(bundle: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(bundle).href)});process.stdout.write(String(performance.now()-t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`importing ${bundle} failed: ${run.stderr}`);
  return Number(run.stdout);
}

export async function measureLambdas(runs: number): Promise<LambdaFigure[]> {
  const { functions, scope } = readDeployedShape();
  const out = await mkdtemp(join(tmpdir(), 'leadstage-bundles-'));
  try {
    const helloEntry = fileURLToPath(new URL('./lambda/hello-world.ts', import.meta.url));
    const template = functions[0]?.bundlingOptions ?? {};
    const targets = [
      ...functions.map((fn) => ({
        name: fn.name,
        memoryMb: fn.memoryMb,
        options: fn.bundlingOptions,
      })),
      { name: 'hello-world', memoryMb: undefined, options: { ...template, entry: helloEntry } },
    ];
    const figures: LambdaFigure[] = [];
    for (const target of targets) {
      const dir = join(out, target.name);
      await mkdir(dir);
      // Only esbuild's console summary is quieted; the output does not depend on it.
      const bundler = new CdkBundling(scope, { ...target.options, logLevel: 'warning' });
      if (!bundler.local?.tryBundle(dir, {}))
        throw new Error(`CDK could not bundle ${target.name} locally`);
      const bundle = join(dir, 'index.mjs');
      const code = await readFile(bundle);
      const times = Array.from({ length: runs }, () => initTime(bundle));
      figures.push({
        name: target.name,
        ...(target.memoryMb === undefined ? {} : { memoryMb: target.memoryMb }),
        bytes: (await stat(bundle)).size,
        gzipBytes: gzipSync(code).byteLength,
        initMs: median(times),
      });
    }
    return figures;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export function printLambdas(figures: LambdaFigure[], runs: number): void {
  const hello = figures.find((figure) => figure.name === 'hello-world');
  console.log(
    `lambda: bundles as CDK builds them (options read from infra/leadstage.ts) vs hello-world; init = median of ${runs} fresh imports`,
  );
  console.log(
    `${'function'.padEnd(12)} ${'MB'.padStart(4)} ${'minified'.padStart(11)} ${'gzip'.padStart(10)} ${'init ms'.padStart(8)}  vs hello-world`,
  );
  for (const figure of figures) {
    const ratio =
      hello && figure !== hello
        ? `${(figure.initMs / hello.initMs).toFixed(1)}x init, +${(figure.initMs - hello.initMs).toFixed(1)} ms`
        : 'baseline';
    console.log(
      `${figure.name.padEnd(12)} ${String(figure.memoryMb ?? '').padStart(4)} ${figure.bytes.toLocaleString('en-US').padStart(11)} ${figure.gzipBytes.toLocaleString('en-US').padStart(10)} ${figure.initMs.toFixed(1).padStart(8)}  ${ratio}`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.env.BENCH_INIT_RUNS ?? 15);
  printLambdas(await measureLambdas(runs), runs);
}
