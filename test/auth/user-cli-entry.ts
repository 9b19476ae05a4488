/**
 * Test entry: `./occ` with the user commands registered even before the lead lists them in
 * src/cli/commands/index.ts (then this is the same as `./occ`).
 */
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { EXIT, reportError } from '../../src/cli/cli-support.ts';
import * as userAdd from '../../src/cli/commands/user-add.command.ts';
import * as userDelete from '../../src/cli/commands/user-delete.command.ts';
import * as userList from '../../src/cli/commands/user-list.command.ts';
import * as userInfo from '../../src/cli/commands/user-info.command.ts';
import * as userResetPassword from '../../src/cli/commands/user-resetpassword.command.ts';
import * as userSetting from '../../src/cli/commands/user-setting.command.ts';
import * as userEnable from '../../src/cli/commands/user-enable.command.ts';

const program = buildProgram();
if (!program.commands.some((c) => c.name() === 'user:add')) {
  for (const m of [userAdd, userDelete, userList, userInfo, userResetPassword, userSetting, userEnable]) m.register(program);
  for (const c of program.commands) c.exitOverride();
}
let code: number = EXIT.OK;
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (err) {
  code = err instanceof CommanderError ? (err.exitCode === 0 ? 0 : EXIT.USAGE) : reportError(err);
}
process.exit(code);
