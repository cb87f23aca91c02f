import { resolve } from 'node:path';
import type { CommandGroup } from './command.ts';
import { CliError } from './errors.ts';
import { formatJson } from './output.ts';
import { readTextFile } from './read-file.ts';

/** One thing wrong in a config file: where (a dotted path) and what. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** The outcome of checking a config document: the forms it defines, or what is wrong with it. */
export type ConfigCheck =
  | { valid: true; forms: string[] }
  | { valid: false; errors: ConfigIssue[] };

/**
 * Checks config JSON text against the schema `leadstage start` and the deployment parse it
 * with (lib/config/app-config.ts), without starting anything.
 */
export async function checkConfigText(text: string): Promise<ConfigCheck> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return {
      valid: false,
      errors: [{ path: '(file)', message: `not valid JSON: ${(error as Error).message}` }],
    };
  }
  // Loaded here, not at start-up: the schema is the biggest import and only this command needs it.
  const { appConfigSchema } = await import('../config/app-config.ts');
  const result = appConfigSchema.safeParse(document);
  if (result.success) return { valid: true, forms: result.data.forms.map((form) => form.id) };
  return {
    valid: false,
    errors: result.error.issues.map((issue) => ({
      path: issue.path.length > 0 ? issue.path.join('.') : '(root)',
      message: issue.message,
    })),
  };
}

/** `leadstage config check FILE`: validates an app config offline. */
export const configGroup: CommandGroup = {
  name: 'config',
  summary: 'Work with app-config files (forms, qualification, CRM mapping, providers).',
  commands: [
    {
      name: 'check',
      summary:
        'Validate an app-config JSON file offline; exits 1 and lists each error when invalid.',
      args: 'FILE',
      positionals: { min: 1, max: 1 },
      description: 'The same schema LEADSTAGE_CONFIG is parsed with at start-up; no server needed.',
      examples: ['leadstage config check examples/app-config.json'],
      async run(context) {
        const file = resolve(context.cwd, context.positionals[0] ?? '');
        const text = await readTextFile(file);
        const check = await checkConfigText(text);
        if (context.json) context.out.stdout(formatJson({ file, ...check }));
        if (check.valid) {
          if (!context.json) {
            context.out.stdout(`${file} is a valid config (forms: ${check.forms.join(', ')}).\n`);
          }
          return 0;
        }
        throw new CliError(
          `${file} is not a valid config:\n${check.errors.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n')}`,
        );
      },
    },
  ],
};
