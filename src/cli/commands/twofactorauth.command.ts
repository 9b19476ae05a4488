import { Option, type Command } from 'commander';
import type { App } from '../../app.ts';
import { TWO_FACTOR_PROVIDERS } from '../../auth/two-factor-service.ts';
import type { EnforcementState } from '../../auth/two-factor-enforcement.ts';
import { NotFoundError, ValidationError } from '../../errors.ts';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Nextcloud's wording of the enforcement state. */
export function describeEnforcement(s: EnforcementState): string {
  if (!s.enforced) return 'Two-factor authentication is not enforced';
  let msg = s.enforcedGroups.length === 0
    ? 'Two-factor authentication is enforced for all users'
    : `Two-factor authentication is enforced for members of the group(s) ${s.enforcedGroups.join(', ')}`;
  if (s.excludedGroups.length) msg += `, except members of ${s.excludedGroups.join(', ')}`;
  return msg;
}

/** @throws NotFoundError naming the first group that does not exist (`admin` always does) */
async function checkGroups(app: App, groups: readonly string[]): Promise<void> {
  for (const g of groups) if (g !== 'admin' && !(await app.groups.exists(g))) throw new NotFoundError(`Group "${g}" does not exist`);
}

/** @throws NotFoundError as Nextcloud's "Invalid UID" */
async function existingUser(app: App, uid: string): Promise<string> {
  const u = await app.users.get(uid).catch(() => undefined);
  if (!u) throw new NotFoundError('Invalid UID');
  return u.uid;
}

/**
 * `./occ twofactorauth:enforce [--on|--off] [--group G]... [--exclude G]...`,
 * `./occ twofactorauth:state UID`, `./occ twofactorauth:disable UID [totp|backup_codes]`
 * (Nextcloud's names, options and messages).
 */
export function register(program: Command): void {
  program
    .command('twofactorauth:enforce')
    .description('enable or disable enforced two-factor authentication (without --on/--off: show the state)')
    .addOption(new Option('--on', 'enforce two-factor authentication'))
    .addOption(new Option('--off', 'do not enforce two-factor authentication'))
    .addOption(new Option('--group <gid>', 'enforce only for the given group(s) (repeatable)').argParser(collect).default([]))
    .addOption(new Option('--exclude <gid>', 'exclude mandatory two-factor auth for the given group(s) (repeatable)').argParser(collect).default([]))
    .action(async (o: { on?: boolean; off?: boolean; group: string[]; exclude: string[] }) => {
      if (o.on && o.off) throw new ValidationError("Can't enforce and *not* enforce at the same time");
      if (!o.on && (o.group.length || o.exclude.length)) throw new ValidationError('--group and --exclude go with --on');
      await withApp(async (app) => {
        let s = await app.twoFactor.enforcement();
        if (o.on) {
          await checkGroups(app, [...o.group, ...o.exclude]);
          s = { enforced: true, enforcedGroups: o.group, excludedGroups: o.exclude };
          await app.twoFactor.setEnforcement(s);
        } else if (o.off) {
          s = { enforced: false, enforcedGroups: [], excludedGroups: [] };
          await app.twoFactor.setEnforcement(s);
        }
        process.stdout.write(describeEnforcement(s) + '\n');
      });
    });

  program
    .command('twofactorauth:state')
    .description('get the two-factor authentication (2FA) state of a user')
    .argument('<uid>', 'user id')
    .addOption(outputOption())
    .action(async (uidArg: string, _o: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const uid = await existingUser(app, uidArg);
        const st = await app.twoFactor.state(uid);
        const on = { totp: st.totp, backup_codes: st.totp && st.backupCodes.remaining > 0 };
        const enabled = TWO_FACTOR_PROVIDERS.filter((p) => on[p]);
        const disabled = TWO_FACTOR_PROVIDERS.filter((p) => !on[p]);
        if (output !== 'plain') {
          printData({ uid, enabled: st.totp, enforced: st.enforced, providers: on, backup_codes: st.backupCodes }, output);
          return;
        }
        const lines = [`Two-factor authentication is ${st.totp ? 'enabled' : 'not enabled'} for user ${uid}`, ''];
        if (enabled.length) lines.push('Enabled providers:', ...enabled.map((p) => `- ${p}`));
        if (disabled.length) lines.push('Disabled providers:', ...disabled.map((p) => `- ${p}`));
        if (st.enforced && !st.totp) lines.push('', 'Two-factor authentication is enforced for this user: they set it up at their next web login.');
        process.stdout.write(lines.join('\n') + '\n');
      });
    });

  program
    .command('twofactorauth:disable')
    .description('disable two-factor authentication for a user (one provider, or all)')
    .argument('<uid>', 'user id')
    .argument('[provider_id]', `provider to disable (${TWO_FACTOR_PROVIDERS.join(', ')}); default all`)
    .action(async (uidArg: string, provider: string | undefined) => {
      if (provider !== undefined && !TWO_FACTOR_PROVIDERS.includes(provider as never)) {
        throw new ValidationError(`Unknown provider "${provider}" (known: ${TWO_FACTOR_PROVIDERS.join(', ')})`);
      }
      await withApp(async (app) => {
        const uid = await existingUser(app, uidArg);
        const off = await app.twoFactor.disable(uid, provider);
        await app.audit.record('twofactor.disabled_by_admin', { uid, providers: off, via: 'cli' });
        if (provider !== undefined) process.stdout.write(`Two-factor provider ${provider} disabled for user ${uid}.\n`);
        else process.stdout.write(off.length ? `Two-factor authentication disabled for user ${uid} (${off.join(', ')}).\n` : `Two-factor authentication was not enabled for user ${uid}.\n`);
      });
    });
}
