// What a CLI command gets from the outside world. Commands never touch
// process.* directly, so tests can run them in-process with real files.
import { UserError } from '../core/types.js';

export interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Aborted on SIGINT/SIGTERM: long work stops cleanly and keeps what it finished. */
  readonly signal: AbortSignal;
}

/** A subcommand: gets the arguments after its name, returns the exit code. */
export type Command = (argv: string[], io: CliIO) => Promise<number>;

export function writeJson(io: CliIO, value: unknown): void {
  io.stdout.write(JSON.stringify(value) + '\n');
}

/** Throws a usage error (exit code 1) unless `value` is present. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new UserError(`missing ${what}`);
  return value;
}
