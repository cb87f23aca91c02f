import { UsageError } from './errors.ts';
import type { ApiClient } from './http-client.ts';
import type { Output } from './output.ts';

/** One option of a command, as parseArgs takes it plus what `--help` says about it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's name in help, e.g. `STAGE`. */
  placeholder?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command gets to run with. */
export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  /** `--json`: machine output on stdout instead of tables. */
  json: boolean;
  out: Output;
  env: Record<string, string | undefined>;
  cwd: string;
  /** The API client (URL and key resolved on first use, so offline commands need neither). */
  api(): ApiClient;
}

/** A subcommand: its name, arguments, options, help and what it does. */
export interface CommandSpec {
  /** The subcommand's name; empty for a command that is its own group (`start`, `import`). */
  name: string;
  summary: string;
  /** The positional arguments as help shows them, e.g. `ID` or `FILE.csv`. */
  args?: string;
  positionals: { min: number; max: number };
  options?: Record<string, OptionSpec>;
  /** More help text below the summary. */
  description?: string;
  examples?: readonly string[];
  /** Resolves with the exit code (0 when nothing is returned). */
  run(context: CommandContext): Promise<number | undefined>;
}

/** A first-level command (`contacts`, `dlq`, ...) and its subcommands. */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: readonly CommandSpec[];
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    placeholder: 'URL',
    description: 'API address (env LEADSTAGE_URL; default http://127.0.0.1:3000)',
  },
  'api-key': {
    type: 'string',
    placeholder: 'KEY',
    description:
      "API key (env LEADSTAGE_API_KEY; on this machine the local runtime's kept key is used)",
  },
  json: { type: 'boolean', description: 'Print JSON on stdout (for scripts) instead of tables' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
};

/** The parseArgs option config for a set of option specs. */
export function parseArgsOptions(options: Record<string, OptionSpec>) {
  return Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.short ? { short: spec.short } : {}),
        ...(spec.multiple ? { multiple: true } : {}),
      },
    ]),
  );
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.placeholder ? ` ${spec.placeholder}` : ''}`;
    const repeat = spec.multiple ? ' (repeatable)' : '';
    return [flag, `${spec.description}${repeat}`] as const;
  });
  const width = Math.max(...entries.map(([flag]) => flag.length));
  return entries.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

/** The `--help` text of one command. */
export function commandHelp(group: CommandGroup, command: CommandSpec): string {
  const words = ['leadstage', group.name, command.name, command.args ?? ''].filter(Boolean);
  const lines = [`Usage: ${words.join(' ')} [options]`, '', command.summary];
  if (command.description) lines.push('', command.description);
  if (command.options && Object.keys(command.options).length > 0) {
    lines.push('', 'Options:', ...optionLines(command.options));
  }
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (command.examples && command.examples.length > 0) {
    lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The `--help` text of a group: its subcommands. */
export function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((command) => command.name.length));
  return `${[
    `Usage: leadstage ${group.name} <command> [options]`,
    '',
    group.summary,
    '',
    'Commands:',
    ...group.commands.map(
      (command) => `  ${command.name.padEnd(width)}  ${command.summary.split('\n')[0]}`,
    ),
    '',
    `Run \`leadstage ${group.name} <command> --help\` for a command's options.`,
  ].join('\n')}\n`;
}

/** A string option's value, or undefined. */
export function stringValue(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable string option's values (empty when not given). */
export function listValue(values: OptionValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** An integer option within bounds, or undefined when not given; anything else is a usage error. */
export function intValue(
  values: OptionValues,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < bounds.min || value > bounds.max) {
    throw new UsageError(`--${name} must be a whole number from ${bounds.min} to ${bounds.max}.`);
  }
  return value;
}

/** A value that must be one of a fixed list; anything else is a usage error naming the list. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${what} must be one of ${allowed.join(', ')} (got "${value}").`);
  }
  return value as T;
}
