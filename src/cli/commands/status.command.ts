import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { configPath, loadConfig } from '../../config/config.ts';
import { instanceStatus } from '../../setup/status.ts';

/** `./occ status`: works when not installed (installed: false). */
export function register(program: Command): void {
  program
    .command('status')
    .description('show some status information (works before installation too)')
    .addOption(outputOption())
    .action(async (_opts: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      const path = configPath();
      const installed = existsSync(path) && loadConfig(path).installed;
      const status = installed ? await withApp((app) => instanceStatus(app)) : await instanceStatus(null);
      printData(status, output);
    });
}
