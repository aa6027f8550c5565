// A CliIO whose stdout and stderr are collected in memory, for running commands in-process.
import { PassThrough } from 'node:stream';
import type { CliIO } from '../../src/cli/io.js';

export type MemoryIO = CliIO & { out: () => string; err: () => string };

export function memoryIO(env: NodeJS.ProcessEnv, cwd: string): MemoryIO {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d));
  stderr.on('data', (d: Buffer) => (e += d));
  return { stdout, stderr, env, cwd, signal: new AbortController().signal, out: () => o, err: () => e };
}
