import type { Command } from 'commander';
import * as maintenanceInstall from './maintenance-install.command.ts';
import * as maintenanceMode from './maintenance-mode.command.ts';
import * as serve from './serve.command.ts';
import * as status from './status.command.ts';
import * as app from './app.command.ts';
import * as infoFile from './info-file.command.ts';
import * as config from './config.command.ts';
import * as encryptionStatus from './encryption-status.command.ts';
import * as encryptionConvert from './encryption-convert.command.ts';
import * as encryptionVerify from './encryption-verify.command.ts';
import * as encryptionKeys from './encryption-keys.command.ts';
import * as encryptionDecryptBlob from './encryption-decrypt-blob.command.ts';
import * as encryptionUserKeys from './encryption-user-keys.command.ts';
import * as encryptionKeyHolder from './encryption-key-holder.command.ts';
import * as userAdd from './user-add.command.ts';
import * as userDelete from './user-delete.command.ts';
import * as userEnable from './user-enable.command.ts';
import * as userInfo from './user-info.command.ts';
import * as userList from './user-list.command.ts';
import * as userResetpassword from './user-resetpassword.command.ts';
import * as userSetting from './user-setting.command.ts';
import * as twofactorauth from './twofactorauth.command.ts';
import * as groupAdd from './group-add.command.ts';
import * as groupMembers from './group-members.command.ts';
import * as groupDelete from './group-delete.command.ts';
import * as groupList from './group-list.command.ts';
import * as filesCleanup from './files-cleanup.command.ts';
import * as versions from './versions.command.ts';
import * as trashbin from './trashbin.command.ts';
import * as logAudit from './log-audit.command.ts';
import * as storageTest from './storage-test.command.ts';
import * as securityBruteforce from './security-bruteforce.command.ts';
import * as importNextcloud from './import-nextcloud.command.ts';
import * as notificationGenerate from './notification-generate.command.ts';
import * as importNextcloudStatus from './import-nextcloud-status.command.ts';

/**
 * A `./occ` command module: registers one or more `namespace:command`s on the program with
 * `program.command('ns:name')…action(async (…args, cmd) => …)`. Throw errors (AppError or
 * CliError) from actions; main.ts maps them to `error: …` and an exit code (see cli-support.ts).
 */
export interface CommandModule {
  register(program: Command): void;
}

/**
 * Every command module, in help order. ADD YOURS HERE (one import + one entry; a name
 * registered twice makes commander throw at start, so check the list first):
 *   - auth engineer:        user-*.command.ts (registered below)
 *   - encryption engineer:  ./encryption-*.command.ts
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  status,
  serve,
  maintenanceInstall,
  maintenanceMode,
  app,
  infoFile,
  config,
  // users (auth engineer)
  userAdd,
  userDelete,
  userEnable,
  userInfo,
  userList,
  userResetpassword,
  userSetting,
  twofactorauth,
  // groups (sharing engineer)
  groupAdd,
  groupMembers,
  groupDelete,
  groupList,
  // encryption-*.command.ts (encryption engineer)
  encryptionStatus,
  encryptionConvert,
  encryptionVerify,
  encryptionKeys,
  encryptionDecryptBlob,
  encryptionUserKeys,
  encryptionKeyHolder,
  // reliability
  filesCleanup,
  versions,
  trashbin,
  logAudit,
  // scale-out
  storageTest,
  // brute-force protection
  securityBruteforce,
  // Nextcloud import (issue 16)
  importNextcloud,
  // notifications (issue 18)
  notificationGenerate,
  importNextcloudStatus,
];
