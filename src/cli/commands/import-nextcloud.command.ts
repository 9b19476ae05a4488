import type { Command } from 'commander';
import { CliError, EXIT, cliOptions, printData, withApp } from '../cli-support.ts';
import { createProgress } from './encryption-convert.command.ts';
import { readNcConfig } from '../../import/nextcloud-config.ts';
import { openNcDatabase } from '../../import/nextcloud-database.ts';
import { NextcloudSource } from '../../import/nextcloud-source.ts';
import { NcKeyRing, type NcKeyMode } from '../../import/nextcloud-keys.ts';
import { NextcloudImporter, type ImportReport } from '../../import/nextcloud-importer.ts';
import { NcUserKeyImport } from '../../import/nextcloud-user-keys.ts';
import { NcPendingFiles } from '../../import/nextcloud-pending-conversion.ts';

interface Flags {
  nextcloudConfig: string;
  nextcloudData?: string;
  databaseUrl?: string;
  recoveryPasswordFromEnv?: boolean;
  dryRun?: boolean;
  allowLive?: boolean;
  intoMasterKey?: boolean;
  output?: 'plain' | 'json' | 'json_pretty';
}

const MiB = 1024 * 1024;
/** Nodes with changed permissions named in the plain report (the JSON one lists all). */
const PERMISSIONS_SHOWN = 5;

/**
 * `./occ import:nextcloud --nextcloud-config PATH [--nextcloud-data DIR] [--database-url URL]
 * [--recovery-password-from-env] [--dry-run]`: carries a Nextcloud instance (users, groups, app
 * passwords, files with their ids and etags, shares, versions and trash) into this freshly installed Coffer. Reads the
 * Nextcloud side only. Exit 5 on conflicts (named), 7 when some content failed its integrity check.
 */
export function register(program: Command): void {
  program
    .command('import:nextcloud')
    .description('import users, files (decrypting Nextcloud server-side encryption) and shares from a Nextcloud instance')
    .requiredOption('--nextcloud-config <path>', "Nextcloud's config/config.php (parsed, never executed)")
    .option('--nextcloud-data <dir>', "Nextcloud's data directory (default: datadirectory of config.php)")
    .option('--database-url <url>', 'mysql://user:pass@host:port/db, postgres://…, or a SQLite file (default: from config.php)')
    .option('--recovery-password-from-env', 'per-user keys: open the files of users who opted into recovery with $OC_RECOVERY_PASS')
    .option('--dry-run', 'read and verify everything, report counts and problems, write nothing')
    .option('--allow-live', 'import although Nextcloud is not in maintenance mode')
    .option('--into-master-key', 'per-user-key source: import into Coffer\'s master-key mode instead of its per-user-key mode (files only of users whose keys the recovery password opens)')
    .option('--output <format>', 'plain, json or json_pretty', 'plain')
    .action(async (flags: Flags, cmd: Command) => {
      cliOptions(cmd);
      const cfg = await readNcConfig(flags.nextcloudConfig, flags.nextcloudData);
      if (!cfg.maintenance && !flags.allowLive && !flags.dryRun) {
        throw new CliError('Nextcloud is not in maintenance mode: run `occ maintenance:mode --on` there first (or pass --allow-live)', EXIT.REFUSED);
      }
      let recoveryPassword: string | undefined;
      if (flags.recoveryPasswordFromEnv) {
        recoveryPassword = process.env.OC_RECOVERY_PASS ?? '';
        if (recoveryPassword === '') throw new CliError('--recovery-password-from-env given, but OC_RECOVERY_PASS is empty', EXIT.USAGE);
      }
      const db = await openNcDatabase(cfg, flags.databaseUrl);
      try {
        const src = new NextcloudSource(db);
        const enabled = (await src.appConfig('core', 'encryption_enabled')) === 'yes';
        const mode: NcKeyMode = !enabled ? 'none' : (await src.appConfig('encryption', 'useMasterKey')) === '0' ? 'per-user' : 'master-key';
        // A per-user-key source goes into Coffer's per-user-key mode (unless --into-master-key); the
        // mode is chosen when the app opens, so it is set (after the checks) before the import opens it.
        const intoPerUser = mode === 'per-user' && !flags.intoMasterKey;
        const keys = await NcKeyRing.load(cfg, mode, {
          masterKeyId: await src.appConfig('encryption', 'masterKeyId'),
          recoveryKeyId: await src.appConfig('encryption', 'recoveryKeyId'),
        }, recoveryPassword);
        if (intoPerUser && !flags.dryRun) {
          await withApp(async (app) => {
            await new NextcloudImporter(app, cfg, src, keys).preflight();
            if (!(await app.userKeys.perUserMode())) await app.userKeys.setPerUserMode(true, await app.encryption.countEncrypted());
          });
        }
        const report = await withApp(async (app) => {
          const importer = new NextcloudImporter(app, cfg, src, keys);
          const userKeys = intoPerUser ? new NcUserKeyImport(app, cfg, src, recoveryPassword) : undefined;
          const pendingFiles = intoPerUser ? new NcPendingFiles(app, cfg) : undefined;
          const started = Date.now();
          const progress = flags.output === 'plain' ? createProgress(flags.dryRun ? 'import:nextcloud (dry run)' : 'import:nextcloud', 0) : undefined;
          try {
            return await importer.run({
              dryRun: !!flags.dryRun,
              ...(userKeys ? { userKeys } : {}),
              ...(pendingFiles ? { pendingFiles } : {}),
              onProgress: (p) => progress?.update({ done: p.files, total: p.totalFiles, bytesDone: p.bytes, elapsedMs: Date.now() - started }),
            });
          } finally {
            progress?.stop();
          }
        });
        print(report, mode, !!flags.dryRun, flags.output ?? 'plain');
        if (report.skipped.length > 0) {
          throw new CliError(`${report.skipped.length} items were not imported (listed above)`, report.skipped.some((s) => s.integrity) ? EXIT.INTEGRITY : EXIT.FAILURE);
        }
      } finally {
        await db.close();
      }
    });
}

function print(r: ImportReport, mode: NcKeyMode, dryRun: boolean, output: 'plain' | 'json' | 'json_pretty'): void {
  if (output !== 'plain') {
    const { items, ...history } = r.history;
    printData({ dryRun, encryption: mode, ...r, history: { ...history, items: items?.map((i) => ({ ...i })) } }, output);
    return;
  }
  const lines = [
    dryRun ? 'Dry run: nothing was written. The import would carry over:' : 'Imported:',
    `  users: ${r.users}`,
    `  groups: ${r.groups}`,
    `  app passwords: ${r.appPasswords}`,
    `  folders: ${r.folders}`,
    `  files: ${r.files} (${(r.bytes / MiB).toFixed(1)} MiB${r.resumed ? `, ${r.resumed} already there from an earlier run` : ''})`,
    ...(r.pending ? [`  of which kept in Nextcloud's encrypted form until their owner's first login: ${r.pending} (./occ import:nextcloud:status)`] : []),
    `  shares: ${r.shares}`,
    `  Nextcloud encryption: ${mode}`,
    `  versions: ${r.history.versions}, trash items: ${r.history.trashItems ?? 0} (${r.history.trash} files) (${r.history.pending}${r.history.resumed ? `, ${r.history.resumed} already there from an earlier run` : ''}${r.history.kept ? `, ${r.history.kept} kept in Nextcloud's encrypted form until their owner's first login` : ''})`,
  ];
  const changed = r.permissionsChanged;
  if (changed.length > 0) {
    // imported all the same: Coffer serves its owner's full rights (docs/MIGRATING-FROM-NEXTCLOUD.md, "Sync clients")
    const shown = changed.slice(0, PERMISSIONS_SHOWN).map((c) => `${c.what} (${c.nextcloud} → ${c.coffer})`);
    lines.push(`  permissions not carried over (Nextcloud gave their owner fewer rights than Coffer does): ${changed.length}: ${shown.join(', ')}${changed.length > PERMISSIONS_SHOWN ? `, … (--output json lists all)` : ''}`);
  }
  if (r.quotasNotUnderstood.length > 0) {
    lines.push(`  quotas not understood, imported without a limit: ${r.quotasNotUnderstood.map((q) => `${q.uid} (${JSON.stringify(q.quota)})`).join(', ')}`);
  }
  if (r.skipped.length > 0) {
    lines.push(`Skipped (${r.skipped.length}):`);
    for (const s of r.skipped) lines.push(`  ${s.what}: ${s.reason}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
