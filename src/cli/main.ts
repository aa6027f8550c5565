// Entry point of the `engram` CLI: dispatches subcommands, maps errors to exit
// codes (0 ok, 1 usage or bad input, 2 engine failure) and one-line messages.
import { CancelledError, UserError } from '../core/types.js';
import type { CliIO, Command } from './io.js';
import { exportFeedbackCommand } from './commands/export-feedback.js';
import { askCommand } from './commands/ask.js';
import { evalCommand } from './commands/eval.js';
import { indexCommand } from './commands/index.js';
import { inspectCommand } from './commands/inspect.js';
import { modelsCommand } from './commands/models.js';
import { searchCommand } from './commands/search.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { watchCommand } from './commands/watch.js';
import { helpOf, USAGE, wantsHelp } from './help.js';

const COMMANDS: Record<string, Command> = {
  index: indexCommand,
  watch: watchCommand,
  status: statusCommand,
  search: searchCommand,
  inspect: inspectCommand,
  serve: serveCommand,
  models: modelsCommand,
  'export-feedback': exportFeedbackCommand,
  ask: askCommand,
  eval: evalCommand,
};

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest[0] === undefined)) {
    io.stdout.write(USAGE);
    return name === undefined ? 1 : 0;
  }
  if (name === 'help' && rest[0] !== undefined && !COMMANDS[rest[0]]) {
    io.stderr.write(`engram: unknown command '${rest[0]}'\n\n${USAGE}`);
    return 1;
  }
  if (name === 'help' || (COMMANDS[name] && wantsHelp(rest))) {
    io.stdout.write(helpOf(name === 'help' ? rest[0]! : name));
    return 0;
  }
  if (name === '--version') {
    io.stdout.write(`${process.env.ENGRAM_VERSION ?? '0.1.0'}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`engram: unknown command '${name}'\n\n${USAGE}`);
    return 1;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    return reportError(error, rest.includes('--verbose'), io);
  }
}

function reportError(error: unknown, verbose: boolean, io: CliIO): number {
  if (error instanceof UserError) {
    io.stderr.write(`engram: ${error.message}\n`);
    return 1;
  }
  if (error instanceof CancelledError) {
    io.stderr.write(`engram: ${error.message}; finished work is kept, run again to resume\n`);
    return 130;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`engram: error: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  else io.stderr.write('(run with --verbose for details)\n');
  return 2;
}

/** Runs the CLI in this process with the real stdio, signals and exit code. */
export function runFromProcess(): void {
  const controller = new AbortController();
  let interrupts = 0;
  const stop = (): void => {
    // First signal: stop cleanly and keep finished work; second: leave now.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`engram: error: ${String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
