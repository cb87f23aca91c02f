/**
 * `npm run load -- --rate 50 --duration 60`: a sustained, open-loop rate of form submissions
 * against `npm start` (lib/local/main.ts in a child process) with a real webhook receiver.
 * Prints offered and achieved rate, events in and applied, and form-to-webhook latency;
 * exits 1 if any accepted submission never arrived as a webhook or any was refused.
 * Figures, not assertions: latency depends on the machine (docs/reliability.md).
 */
import { parseArgs } from 'node:util';
import { formatReport, runLoad } from './load/run-load.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '60' },
    drain: { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
  },
});

const positive = (name: string, value: string | undefined): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    process.stderr.write(`--${name} must be a positive number (got ${value})\n`);
    process.exit(2);
  }
  return number;
};

const report = await runLoad({
  rate: positive('rate', values.rate),
  durationSeconds: positive('duration', values.duration),
  drainTimeoutSeconds: positive('drain', values.drain),
  log: (line) => console.log(line),
});
for (const line of formatReport(report)) console.log(line);
if (values.json) console.log(JSON.stringify(report));
const refusedCount = Object.values(report.refused).reduce((sum, count) => sum + count, 0);
if (report.lost > 0 || refusedCount > 0) {
  console.log(`FAIL: ${report.lost} lost, ${refusedCount} refused`);
  process.exit(1);
}
