/**
 * `./occ`: Coffer's admin CLI, with Nextcloud's `namespace:command` names. One process per
 * invocation (the shell wrapper `exec`s node), so signals reach `serve` directly.
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EXIT, reportError } from './cli-support.ts';
import { COMMAND_MODULES } from './commands/index.ts';
import { COFFER_VERSION } from '../setup/version.ts';

const EXIT_CODE_HELP = `
Exit codes:
  0  success
  1  failure (unexpected error, database unreachable)
  2  usage error: unknown command or option, missing argument, invalid input
  3  not installed, or the config file is missing or invalid
  4  not found (user, file, app)
  5  conflict or refused (already exists, always-enabled app, maintenance, answered "no")
  6  authentication failed or throttled
  7  integrity error (tampered or undecryptable data)

Environment:
  COFFER_CONFIG  config file (default: config/config.json under the working directory)
  COFFER_DEBUG=1 print stack traces of errors
  COFFER_WORKERS default of serve --workers (else one per core)
`;

/** Builds the commander program with every registered command. */
export function buildProgram(): Command {
  const program = new Command('occ');
  program
    .description('Coffer admin CLI')
    .version(COFFER_VERSION, '-V, --version')
    .option('-n, --no-interaction', 'do not ask any interactive question (answers take their defaults)')
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText('after', EXIT_CODE_HELP);
  for (const m of COMMAND_MODULES) m.register(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride();
  return program;
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit code. Every error,
 * commander's usage errors included, goes through here.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.OK;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help/version text)
      if (err.exitCode === 0) return EXIT.OK;
      if (err.code === 'commander.unknownCommand') process.stderr.write("Run './occ --help' to list the commands.\n");
      if (err.code === 'commander.error') return err.exitCode; // cmd.error(msg, { exitCode })
      return EXIT.USAGE;
    }
    return reportError(err);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `./occ config:list | head`: a closed pipe is not an error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(EXIT.OK); throw err; });
  const code = await runCli(process.argv.slice(2));
  process.exit(code);
}
