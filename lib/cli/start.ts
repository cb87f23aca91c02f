import type { CommandGroup } from './command.ts';
import { intValue, stringValue } from './command.ts';

/** `leadstage start`: the one-machine runtime, exactly what `npm start` runs. */
export const startGroup: CommandGroup = {
  name: 'start',
  summary: 'Run Leadstage on this machine (API, queues, workers, data folder) until Ctrl-C.',
  commands: [
    {
      name: '',
      summary: 'Run Leadstage on this machine (API, queues, workers, data folder) until Ctrl-C.',
      positionals: { min: 0, max: 0 },
      options: {
        port: {
          type: 'string',
          placeholder: 'N',
          description: 'Port (env PORT; default 3000; 0 picks a free one)',
        },
        host: {
          type: 'string',
          placeholder: 'HOST',
          description: 'Address to listen on (env HOST; default 127.0.0.1)',
        },
        'data-dir': {
          type: 'string',
          placeholder: 'DIR',
          description: 'Data folder (env LEADSTAGE_DATA_DIR; default .leadstage)',
        },
        config: {
          type: 'string',
          placeholder: 'FILE',
          description: 'App-config JSON file (env LEADSTAGE_CONFIG; default: one form "contact")',
        },
        'log-level': {
          type: 'string',
          placeholder: 'LEVEL',
          description: 'debug, info, warn, error or silent (env LOG_LEVEL; default info)',
        },
      },
      description:
        'The same as `npm start`; every setting can also come from its environment variable. ' +
        '--api-key sets the key the API accepts (else the one kept in the data folder, generated ' +
        'on first start). Prints the URL, the key and the form endpoints when ready.',
      examples: ['leadstage start', 'leadstage start --port 8080 --config app-config.json'],
      async run(context) {
        const settings: [string, string][] = [
          ['port', 'PORT'],
          ['host', 'HOST'],
          ['data-dir', 'LEADSTAGE_DATA_DIR'],
          ['config', 'LEADSTAGE_CONFIG'],
          ['log-level', 'LOG_LEVEL'],
          ['api-key', 'LEADSTAGE_API_KEY'],
        ];
        // Checked here so the message names the flag; the runtime checks PORT itself too.
        intValue(context.values, 'port', { min: 0, max: 65_535 });
        for (const [option, variable] of settings) {
          const value = stringValue(context.values, option);
          if (value !== undefined) process.env[variable] = value;
        }
        // The runtime's own entry point: it validates the settings, prints its banner, and
        // stops cleanly on SIGINT/SIGTERM (exiting the process itself).
        await import('../local/main.ts');
        return new Promise<number>(() => undefined);
      },
    },
  ],
};
