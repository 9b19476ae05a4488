import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, EXIT, cliOptions, loadInstalledConfig, outputOption, printData, withApp } from '../cli-support.ts';
import { configPath } from '../../config/config.ts';
import { NotFoundError } from '../../errors.ts';

export const SENSITIVE = '***REMOVED SENSITIVE VALUE***';
/** System config keys (any depth) whose values config:list hides. */
const SENSITIVE_SYSTEM = /^(secret|password|secretKey|accessKey)$/;
/** App config keys whose values config:list hides. */
const SENSITIVE_APP = /(password|secret|token|private)/i;

function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SENSITIVE_SYSTEM.test(k) && x !== '' ? SENSITIVE : redact(x)]));
  }
  return v;
}

/** The config file as written (not the resolved, defaulted object). */
function rawSystemConfig(): Record<string, unknown> {
  loadInstalledConfig(); // validates, and says "not installed" properly
  return JSON.parse(readFileSync(configPath(), 'utf8')) as Record<string, unknown>;
}

/** `./occ config:system:get NAME…` and `./occ config:list [app] [--private]`. */
export function register(program: Command): void {
  program
    .command('config:system:get')
    .description('print a system config value (nested keys as separate arguments: database type)')
    .argument('<name...>', 'key, then sub-keys')
    .addOption(outputOption())
    .action(async (names: string[], _flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      let v: unknown = rawSystemConfig();
      for (const n of names) {
        if (typeof v !== 'object' || v === null || !Object.hasOwn(v, n)) throw new NotFoundError(`No such system config value: ${names.join(' ')}`);
        v = (v as Record<string, unknown>)[n];
      }
      if (output === 'plain' && (typeof v !== 'object' || v === null)) process.stdout.write(`${v === null ? '' : String(v)}\n`);
      else printData(v, output);
    });

  program
    .command('config:list')
    .description(`print the system and app config (sensitive values shown as ${SENSITIVE} unless --private)`)
    .argument('[app]', '"system", "all" (default) or an app id')
    .option('--private', 'include sensitive values')
    .addOption(outputOption().default('json_pretty'))
    .action(async (which: string | undefined, flags: { private?: boolean }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      const target = which ?? 'all';
      const sys = rawSystemConfig();
      const out: { system?: unknown; apps?: Record<string, Record<string, string>> } = {};
      if (target === 'all' || target === 'system') out.system = flags.private ? sys : redact(sys);
      if (target !== 'system') {
        out.apps = await withApp(async (app) => {
          const ids = await app.appConfig.apps();
          const apps: Record<string, Record<string, string>> = {};
          for (const id of ids) {
            if (target !== 'all' && id !== target) continue;
            const all = await app.appConfig.all(id);
            apps[id] = flags.private ? all : Object.fromEntries(Object.entries(all).map(([k, v]) => [k, SENSITIVE_APP.test(k) ? SENSITIVE : v]));
          }
          return apps;
        });
        if (target !== 'all' && !out.apps[target]) throw new CliError(`No config for app "${target}"`, EXIT.NOT_FOUND);
      }
      printData(out, output);
    });
}
