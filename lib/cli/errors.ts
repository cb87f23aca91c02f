/**
 * A failure the CLI reports as one message on stderr and an exit code, never a stack trace.
 * Exit code 1 is a failed operation, 2 a command line that could not be understood.
 */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A command line that could not be understood (unknown command or option, missing argument). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';

  constructor(message: string) {
    super(message, 2);
  }
}
