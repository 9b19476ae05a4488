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
await bundleEntries();
writeFileSync(join(root, 'dist/.stamp'), new Date().toISOString() + '\n');
if (existsSync(join(root, 'web/vite.config.ts'))) {
  run([join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(root, 'web/vite.config.ts')]);
}

/**
 * Bundles of the two entry points (dist/cli/main.bundle.js for ./occ, start.bundle.js for npm
 * start), which scripts/run-node.sh prefers: node reads a few dozen files instead of ~1,500 (ours,
 * Kysely's, zod's, the AWS SDK's), and ./occ starts in about half the time. Code splitting keeps
 * what only some setups use (the AWS SDK, ioredis, PKCS#11, the installer) in chunks that are
 * loaded when imported: an idle SQLite server holds about 88 MiB instead of 105 with one file per
 * entry. Native addons and pino stay outside (loaded from node_modules at run time). The bundles
 * and chunks sit beside the modules they were made from, so paths relative to import.meta.url
 * (package.json, web/dist) resolve the same. Source maps are written; run-node.sh has node load
 * them only with COFFER_SOURCE_MAPS=1 (parsing them costs about 12 MiB).
 */
async function bundleEntries() {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(root, 'dist/cli/main.js'), join(root, 'dist/cli/start.js')],
    outdir: join(root, 'dist/cli'), outExtension: { '.js': '.bundle.js' },
    bundle: true, splitting: true, platform: 'node', format: 'esm', target: 'node26', sourcemap: true, logLevel: 'warning',
    external: ['better-sqlite3', 'pkcs11js', '@node-rs/argon2', 'pino', 'pg-native', 'cli-progress'],
    // CommonJS packages inside the bundle call require(); ESM has none, so give them node's
    banner: { js: "import { createRequire as __cofferRequire } from 'node:module'; const require = __cofferRequire(import.meta.url);" },
  });
}
