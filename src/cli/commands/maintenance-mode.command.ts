import type { Command } from 'commander';
import { CliError, EXIT, withApp } from '../cli-support.ts';

/** `./occ maintenance:mode --on|--off` (no flag: show the current state). */
export function register(program: Command): void {
  program
    .command('maintenance:mode')
    .description('show, enable or disable maintenance mode (DAV and OCS answer 503 within a second)')
    .option('--on', 'enable maintenance mode')
    .option('--off', 'disable maintenance mode')
    .action(async (flags: { on?: boolean; off?: boolean }) => {
      if (flags.on && flags.off) throw new CliError('give either --on or --off, not both', EXIT.USAGE);
      await withApp(async (app) => {
        if (flags.on || flags.off) {
          const on = !!flags.on;
          const was = await app.maintenance.isOn();
          await app.maintenance.set(on);
          await app.audit.record(on ? 'maintenance.enabled' : 'maintenance.disabled', { via: 'cli' });
          process.stdout.write(on
            ? (was ? 'Maintenance mode already enabled\n' : 'Maintenance mode enabled\n')
            : (was ? 'Maintenance mode disabled\n' : 'Maintenance mode already disabled\n'));
        } else {
          process.stdout.write(`Maintenance mode is currently ${(await app.maintenance.isOn()) ? 'enabled' : 'disabled'}\n`);
        }
      });
    });
}
