import type { Command } from 'commander';
import { Option } from 'commander';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';

/** `./occ group:list [--limit N] [--offset N] [--info] [--output=json|plain]`: `{"group":["user",…]}` */
export function register(program: Command): void {
  program
    .command('group:list')
    .description('list groups and their members')
    .addOption(new Option('-l, --limit <n>', 'number of groups to list').argParser(nonNegative).default(500))
    .addOption(new Option('-o, --offset <n>', 'offset').argParser(nonNegative).default(0))
    .option('-i, --info', 'show display names too')
    .addOption(outputOption())
    .action(async (flags: { limit: number; offset: number; info?: boolean }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const groups = (await app.groups.list()).slice(flags.offset, flags.offset + flags.limit);
        const data: Record<string, unknown> = {};
        for (const g of groups) data[g.gid] = flags.info ? { displayName: g.displayName, users: g.members } : g.members;
        printData(data, output);
      });
    });
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
}
