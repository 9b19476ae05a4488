import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configPath, saveConfig } from '../../config/config.ts';
import { KeyStore } from '../../keys/key-store.ts';
import { KeyManager } from '../../encryption/master-key/key-manager.ts';
import { createKeyHolder, type KeyHolderConfig } from '../../encryption/key-holders/key-holder.ts';
import { PKCS11_MECHANISMS } from '../../encryption/key-holders/pkcs11-mechanisms.ts';
import { keyHolderStatus, switchKeyHolder } from '../../encryption/key-holders/key-holder-switch.ts';
import { CliError, EXIT, cliOptions, outputOption, printData, withApp } from '../cli-support.ts';

interface SetFlags { module?: string; tokenLabel?: string; pinFromEnv?: string | boolean; pinFile?: string; keyLabel?: string; mechanism?: string }

function holderEntry(type: string, f: SetFlags): KeyHolderConfig {
  if (type === 'secret') return { type: 'secret' };
  if (type !== 'pkcs11') throw new CliError(`unknown key holder type '${type}' (secret or pkcs11)`, EXIT.USAGE);
  if (!f.module || !f.tokenLabel) throw new CliError('pkcs11 needs --module PATH and --token-label LABEL', EXIT.USAGE);
  if (f.pinFromEnv === undefined && !f.pinFile) throw new CliError('give the PIN source: --pin-from-env [VAR] (default PKCS11_PIN) or --pin-file FILE; the PIN itself is never stored in the config', EXIT.USAGE);
  if (f.pinFromEnv !== undefined && f.pinFile) throw new CliError('--pin-from-env and --pin-file exclude each other', EXIT.USAGE);
  if (typeof f.pinFromEnv === 'string' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.pinFromEnv)) throw new CliError(`--pin-from-env takes the name of an environment variable, not a PIN`, EXIT.USAGE);
  const mechanism = f.mechanism as (typeof PKCS11_MECHANISMS)[number] | undefined;
  if (mechanism !== undefined && !PKCS11_MECHANISMS.includes(mechanism)) throw new CliError(`--mechanism must be one of ${PKCS11_MECHANISMS.join(', ')}`, EXIT.USAGE);
  return {
    type: 'pkcs11', module: resolve(f.module), tokenLabel: f.tokenLabel,
    ...(f.pinFile ? { pinFile: resolve(f.pinFile) } : { pinEnv: typeof f.pinFromEnv === 'string' ? f.pinFromEnv : 'PKCS11_PIN' }),
    ...(f.keyLabel ? { keyLabel: f.keyLabel } : {}),
    ...(mechanism && mechanism !== 'auto' ? { mechanism } : {}),
  };
}

/**
 * `encryption:key-holder:set secret|pkcs11 …` (re-wraps the master key under another holder,
 * crash-safely; the config file's `keyHolder` is the commit point) and `encryption:key-holder:status`.
 */
export function register(program: Command): void {
  program
    .command('encryption:key-holder:set')
    .description('choose what wraps the master key: the config secret, or a non-extractable key on a PKCS#11 token (HSM)')
    .argument('<type>', 'secret | pkcs11')
    .option('--module <path>', 'PKCS#11 library of the HSM (e.g. /usr/lib/softhsm/libsofthsm2.so)')
    .option('--token-label <label>', 'label of the token')
    .option('--pin-from-env [var]', 'read the user PIN from this environment variable (default PKCS11_PIN)')
    .option('--pin-file <file>', 'read the user PIN from the first line of this file')
    .option('--key-label <label>', 'label of the AES wrapping key on the token (default coffer-master-wrap-<instanceid>)')
    .option('--mechanism <m>', 'auto (default: CKM_AES_GCM, else CKM_AES_KEY_WRAP_PAD, else CKM_AES_CBC), aes-gcm, aes-key-wrap-pad or aes-cbc')
    .action(async (type: string, flags: SetFlags) => {
      const entry = holderEntry(type, flags);
      const path = configPath();
      await withApp(async (app) => {
        const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
        const keys = new KeyManager({
          keyStore: new KeyStore(await app.encryption.keyStorageRoot()),
          secret: app.config.secret, instanceId: app.config.instanceid, holder: app.keyHolder,
        });
        const to = await createKeyHolder({ secret: app.config.secret, instanceid: app.config.instanceid, keyHolder: entry });
        try {
          const r = await switchKeyHolder({
            keys, to,
            commit: async () => { saveConfig(path, { ...raw, keyHolder: entry } as Parameters<typeof saveConfig>[1]); },
          });
          if (r.recovered === 'completed' || r.recovered === 'rolled-back') {
            process.stdout.write(`An interrupted key holder switch was ${r.recovered === 'completed' ? 'completed' : 'rolled back'} first.\n`);
          }
          process.stdout.write(r.masterKeyId
            ? `Key holder is now ${r.to} (was ${r.from}): master key ${r.masterKeyId} re-wrapped, verified, and the old wrapping removed.\n`
            : `Key holder is now ${r.to} (was ${r.from}); no master key exists yet (it will be created under ${r.to}).\n`);
          process.stdout.write(`The config file ${path} names the holder. Restart running servers so they open it.\n`);
          if (to.type === 'pkcs11') process.stdout.write('The config secret and the key storage no longer suffice to decrypt: without the token (and its PIN) the files are unreadable. Back up the token as your HSM vendor describes.\n');
        } finally {
          await to.close();
        }
      });
    });

  program
    .command('encryption:key-holder:status')
    .description('show what wraps the master key (secret or PKCS#11 token) and the wrappings in the key storage')
    .addOption(outputOption())
    .action(async (_flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const keys = new KeyManager({
          keyStore: new KeyStore(await app.encryption.keyStorageRoot()),
          secret: app.config.secret, instanceId: app.config.instanceid, holder: app.keyHolder,
        });
        const s = await keyHolderStatus(keys);
        if (output !== 'plain') { printData(s, output); return; }
        const h = s.holder as Record<string, unknown>;
        const lines = [`Key holder: ${h.id}`];
        if (h.type === 'pkcs11') lines.push(`  module: ${h.module}`, `  token: ${h.tokenLabel}`, `  key: ${h.keyLabel}`, `  mechanism: ${h.mechanism ?? h.mechanismPreference}`, `  PIN from: ${h.pinSource}`);
        lines.push(`Master key: ${s.masterKeyId ?? '(none: encryption never enabled)'}`);
        for (const w of s.wrappings as { masterKeyId: string; holder: string; file: string }[]) lines.push(`  wrapping by ${w.holder}: ${w.file}`);
        if (s.interruptedSwitch) lines.push('An interrupted switch is pending: run encryption:key-holder:set again.');
        process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
