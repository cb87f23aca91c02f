import { processOutput } from './output.ts';
import { runCli } from './run.ts';

/** The `leadstage` command (bin/leadstage.js runs this on Node 22; `npm run leadstage --` too). */
const code = await runCli(process.argv.slice(2), {
  out: processOutput(),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
