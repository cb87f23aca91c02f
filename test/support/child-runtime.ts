import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildRuntime {
  process: ChildProcess;
  url: string;
  /** Everything the process wrote to stderr so far (start-up banner, errors). */
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `lib/local/main.ts` (what `npm start` runs) as a separate process on the same Node
 * as the tests, and waits for the URL in its start-up banner.
 */
export async function spawnRuntime(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ChildRuntime> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', 'lib/local/main.ts'],
    {
      cwd: projectRoot,
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no start-up banner in ${timeoutMs} ms:\n${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /^API:\s+(http:\/\/\S+)$/m.exec(stderr);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`runtime exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  return { process: child, url, stderr: () => stderr, exited };
}
