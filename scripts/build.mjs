#!/usr/bin/env node
// Builds what `npm start` and `./occ` run: the server (tsc → dist/, then a stamp that
// scripts/run-node.sh compares with src/) and the web UI assets (Vite).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (args) => {
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
rmSync(join(root, 'dist'), { recursive: true, force: true });
run([join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')]);
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist/.stamp'), new Date().toISOString() + '\n');
if (existsSync(join(root, 'web/vite.config.ts'))) {
  run([join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(root, 'web/vite.config.ts')]);
}
