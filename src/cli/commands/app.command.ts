import type { Command } from 'commander';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { AppRegistry } from '../../apps/app-registry.ts';

/** `./occ app:list`, `app:enable ID…`, `app:disable ID…`. */
export function register(program: Command): void {
  program
    .command('app:list')
    .description('list the apps and whether they are enabled')
    .addOption(outputOption())
    .action(async (_flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      const list = await withApp((app) => new AppRegistry(app.appConfig).list());
      if (output === 'plain') {
        const section = (title: string, apps: Record<string, string>) =>
          `${title}:\n` + Object.entries(apps).map(([id, v]) => `  - ${id}: ${v}\n`).join('');
        process.stdout.write(section('Enabled', list.enabled) + section('Disabled', list.disabled));
      } else {
        printData(list, output);
      }
    });

  program
    .command('app:enable')
    .description('enable apps')
    .argument('<app-id...>', 'app ids')
    .action(async (ids: string[]) => {
      await withApp(async (app) => {
        const reg = new AppRegistry(app.appConfig);
        for (const id of ids) reg.info(id); // all known before changing anything
        for (const id of ids) {
          const changed = await reg.enable(id);
          await app.audit.record('app.enabled', { app: id, via: 'cli' });
          process.stdout.write(changed ? `${id} ${reg.info(id).version} enabled\n` : `${id} already enabled\n`);
        }
      });
    });

  program
    .command('app:disable')
    .description('disable apps (not files or dav; not encryption while server-side encryption is on)')
    .argument('<app-id...>', 'app ids')
    .action(async (ids: string[]) => {
      await withApp(async (app) => {
        const reg = new AppRegistry(app.appConfig);
        for (const id of ids) reg.info(id);
        for (const id of ids) {
          const changed = await reg.disable(id);
          await app.audit.record('app.disabled', { app: id, via: 'cli' });
          process.stdout.write(changed ? `${id} ${reg.info(id).version} disabled\n` : `No such app enabled: ${id}\n`);
        }
      });
    });
}
