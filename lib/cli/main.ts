import { processOutput } from './output.ts';
import { runCli } from './run.ts';

// `leadstage ... | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

/** The `leadstage` command (bin/leadstage.js runs this on Node 22; `npm run leadstage --` too). */
const code = await runCli(process.argv.slice(2), {
  out: processOutput(),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
