#!/usr/bin/env node
// The `leadstage` command. Plain JavaScript on purpose: it must start on any Node (the system
// one may be too old to run TypeScript) and hand over to the CLI in lib/cli/main.ts on a Node
// that can: this one when it strips types itself (22.18+), else the project's pinned Node 22
// (the `node` devDependency). Arguments, stdio, the exit code and signals pass straight through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// import.meta.url is the real file even through an `npm link` or node_modules/.bin symlink.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(packageRoot, 'lib', 'cli', 'main.ts');
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Node 22.18 and later run .ts files without flags (type stripping on by default). */
function stripsTypes(version) {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 18);
}

function nodeForTypeScript() {
  if (stripsTypes(process.versions.node)) return process.execPath;
  const pinned = [
    join(packageRoot, 'node_modules', 'node', 'bin', 'node'),
    join(packageRoot, 'node_modules', '.bin', 'node'),
  ];
  return pinned.find((candidate) => existsSync(candidate));
}

const node = nodeForTypeScript();
if (node === undefined) {
  process.stderr.write(
    `leadstage: needs Node 22.18 or later (this is ${process.version}), or the project's pinned ` +
      `Node: run \`npm install\` in ${packageRoot}.\n`,
  );
  process.exit(1);
}

const child = spawn(
  node,
  ['--disable-warning=ExperimentalWarning', entry, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

child.on('error', (error) => {
  process.stderr.write(`leadstage: cannot run ${node}: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal !== null) {
    // Die of the same signal, so a parent shell sees what the CLI died of.
    for (const forwarded of FORWARDED_SIGNALS) process.off(forwarded, forward);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
