import type { Command } from 'commander';
import { Option } from 'commander';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { userInfo } from './user-info.command.ts';

/** `./occ user:list [--limit N] [--offset N] [--info] [--output=json|plain]` */
export function register(program: Command): void {
  program
    .command('user:list')
    .description('list users: user id and display name (--info: everything user:info shows)')
    .addOption(new Option('-l, --limit <n>', 'number of users to list').argParser(nonNegative).default(500))
    .addOption(new Option('-o, --offset <n>', 'offset').argParser(nonNegative).default(0))
    .option('-i, --info', 'show detailed info')
    .addOption(outputOption())
    .action(async (flags: { limit: number; offset: number; info?: boolean }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const users = await app.users.list({ limit: flags.limit, offset: flags.offset });
        const data: Record<string, unknown> = {};
        for (const u of users) data[u.uid] = flags.info ? await userInfo(app, u) : u.displayName;
        printData(data, output);
      });
    });
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
}
