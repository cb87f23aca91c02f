import { readFile } from 'node:fs/promises';
import { CliError } from './errors.ts';

/** The text of `file` (UTF-8); a file that cannot be read is one CliError saying which and why. */
export async function readTextFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
    );
  }
}
