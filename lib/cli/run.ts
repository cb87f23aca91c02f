import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type CommandContext,
  type CommandGroup,
  type CommandSpec,
  commandHelp,
  GLOBAL_OPTIONS,
  groupHelp,
  parseArgsOptions,
  stringValue,
} from './command.ts';
import { configGroup } from './config-check.ts';
import { resolveConnection } from './connection.ts';
import { contactsGroup } from './contacts.ts';
import { deliveriesGroup } from './deliveries.ts';
import { dlqGroup } from './dlq.ts';
import { CliError, UsageError } from './errors.ts';
import { type ApiClient, createApiClient } from './http-client.ts';
import { importGroup } from './import-command.ts';
import type { Output } from './output.ts';
import { startGroup } from './start.ts';
import { subscriptionsGroup } from './subscriptions.ts';

/** Every first-level command, in the order `--help` lists them. */
export const GROUPS: readonly CommandGroup[] = [
  startGroup,
  subscriptionsGroup,
  contactsGroup,
  deliveriesGroup,
  dlqGroup,
  configGroup,
  importGroup,
];

function mainHelp(): string {
  const width = Math.max(...GROUPS.map((group) => group.name.length));
  return `${[
    'Usage: leadstage <command> [options]',
    '',
    'Leadstage from the command line: run it locally, manage webhook subscriptions, read',
    'contacts, inspect deliveries and dead letters, check config files and import leads.',
    '',
    'Commands:',
    ...GROUPS.map((group) => `  ${group.name.padEnd(width)}  ${group.summary}`),
    '',
    'Connection: --url or LEADSTAGE_URL (default http://127.0.0.1:3000), --api-key or',
    'LEADSTAGE_API_KEY (on this machine the key `leadstage start` keeps in .leadstage/api-key).',
    'Add --json for machine output. Exit codes: 0 ok, 1 failed, 2 bad command line.',
    '',
    'Run `leadstage <command> --help` for more.',
  ].join('\n')}\n`;
}

function version(): string {
  const manifest = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return manifest.version;
}

/** Global options that take a value, so their value is not mistaken for the command's name. */
const VALUE_OPTIONS = new Set(['--url', '--api-key']);

/** Where the command words are: the first two arguments that are neither options nor their values. */
function commandWords(argv: readonly string[]): number[] {
  const found: number[] = [];
  for (let index = 0; index < argv.length && found.length < 2; index++) {
    const arg = argv[index] ?? '';
    if (arg === '--') break;
    if (VALUE_OPTIONS.has(arg)) {
      index++;
      continue;
    }
    if (arg.startsWith('-')) {
      // A command's subcommand must follow its name directly; an option in between ends the search.
      if (found.length === 1) break;
      continue;
    }
    if (found.length === 1 && found[0] !== index - 1) break;
    found.push(index);
  }
  return found;
}

export interface CliEnvironment {
  out: Output;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Runs one command line; resolves with the exit code. Failures are reported on stderr. */
export async function runCli(
  argv: readonly string[],
  environment: CliEnvironment,
): Promise<number> {
  const { out } = environment;
  try {
    return await dispatch(argv, environment);
  } catch (error) {
    if (error instanceof CliError) {
      out.stderr(`leadstage: ${error.message}\n`);
      return error.exitCode;
    }
    // A bug, not a user error: still one line, with the stack only on request.
    const detail = environment.env.LEADSTAGE_DEBUG
      ? (error as Error).stack
      : (error as Error).message;
    out.stderr(`leadstage: unexpected error: ${detail}\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], environment: CliEnvironment): Promise<number> {
  const { out } = environment;
  const words = commandWords(argv);
  const groupIndex = words[0];
  if (groupIndex === undefined) {
    if (argv.includes('--version')) {
      out.stdout(`leadstage ${version()} (Node ${process.version})\n`);
      return 0;
    }
    if (argv.includes('--help') || argv.includes('-h')) {
      out.stdout(mainHelp());
      return 0;
    }
    out.stderr(mainHelp());
    return 2;
  }
  const groupName = argv[groupIndex] ?? '';
  const group = GROUPS.find((candidate) => candidate.name === groupName);
  if (group === undefined) {
    throw new UsageError(`Unknown command "${groupName}". Run \`leadstage --help\` for the list.`);
  }
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  let command: CommandSpec | undefined;
  let skip = new Set([groupIndex]);
  const standalone = group.commands.find((candidate) => candidate.name === '');
  if (standalone !== undefined) {
    command = standalone;
  } else {
    const subIndex = words[1];
    if (subIndex === undefined) {
      if (wantsHelp) {
        out.stdout(groupHelp(group));
        return 0;
      }
      out.stderr(groupHelp(group));
      return 2;
    }
    const subName = argv[subIndex] ?? '';
    command = group.commands.find((candidate) => candidate.name === subName);
    if (command === undefined) {
      throw new UsageError(
        `Unknown command "${group.name} ${subName}"; it has ${group.commands.map((c) => c.name).join(', ')}.`,
      );
    }
    skip = new Set([groupIndex, subIndex]);
  }
  const title = ['leadstage', group.name, command.name].filter(Boolean).join(' ');
  if (wantsHelp) {
    out.stdout(commandHelp(group, command));
    return 0;
  }

  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv.filter((_, index) => !skip.has(index)),
      options: parseArgsOptions({ ...GLOBAL_OPTIONS, ...(command.options ?? {}) }),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun \`${title} --help\` for its options.`);
  }
  const { positionals } = parsed;
  const values = parsed.values as CommandContext['values'];
  const { min, max } = command.positionals;
  if (positionals.length < min || positionals.length > max) {
    const expected = command.args ? `expects ${command.args}` : 'takes no arguments';
    throw new UsageError(
      `\`${title}\` ${expected}${positionals.length > max ? ` (unexpected: ${positionals.slice(max).join(' ')})` : ''}. Run \`${title} --help\`.`,
    );
  }

  let client: ApiClient | undefined;
  const context: CommandContext = {
    values,
    positionals,
    json: values.json === true,
    out,
    env: environment.env,
    cwd: environment.cwd,
    api() {
      if (client === undefined) {
        const connection = resolveConnection(
          { url: stringValue(values, 'url'), apiKey: stringValue(values, 'api-key') },
          environment.env,
          environment.cwd,
        );
        client = createApiClient({ baseUrl: connection.url, apiKey: connection.apiKey });
      }
      return client;
    },
  };
  return (await command.run(context)) ?? 0;
}
