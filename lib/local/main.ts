import { ConfigError } from '../config/app-config.ts';
import { jsonLogger } from '../observability/logger.ts';
import { mainOptionsFromEnv } from './main-options.ts';
import { startLocalRuntime } from './runtime.ts';
import { dataPaths } from './servers.ts';

/** `npm start`: the whole pipeline on this machine, until Ctrl-C. */
async function main(): Promise<void> {
  const options = await mainOptionsFromEnv(process.env);
  const runtime = await startLocalRuntime({
    dataDir: options.dataDir,
    port: options.port,
    host: options.host,
    apiKey: options.apiKey,
    config: options.config,
    logger: jsonLogger(options.logLevel),
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
  });

  const keyLine =
    options.apiKeySource === 'env'
      ? 'API key:     from LEADSTAGE_API_KEY'
      : `API key:     ${options.apiKey}${options.apiKeySource === 'generated' ? ' (generated' : ' (kept'} in ${dataPaths(options.dataDir).apiKey})`;
  const forms = options.config.forms.map(
    (form) => `${runtime.url}/v1/forms/${form.id}/submissions`,
  );
  process.stderr.write(
    [
      '',
      `Leadstage is running (Node ${process.version}).`,
      `API:         ${runtime.url}`,
      `Funnel page: ${runtime.url}/ (sign in with the API key)`,
      `Forms:       ${forms.join('\n             ')}`,
      `API docs:    ${runtime.url}/docs (OpenAPI: ${runtime.url}/openapi.json)`,
      keyLine,
      `Config:      ${options.configSource}`,
      `Data folder: ${options.dataDir}`,
      'Stop with Ctrl-C; queued events and contacts are kept for the next start.',
      '',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: finishing work in hand and closing the data stores...\n`);
    runtime.stop().then(
      () => {
        process.stderr.write('Stopped.\n');
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`Stop failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Leadstage could not start: ${(error as Error).message}\n`);
  }
  process.exit(1);
});
