// Options every command shares (DESIGN.md: --repo, --store, --json) and their parsing.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isStructural } from '../core/compress/index.js';
import type { EngineOptions } from '../core/engine.js';
import { UserError } from '../core/types.js';
import type { CliIO } from './io.js';

export const COMMON_OPTIONS = {
  repo: { type: 'string' },
  store: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  'max-file-bytes': { type: 'string' },
  exclude: { type: 'string', multiple: true },
  'include-secrets': { type: 'boolean', default: false },
  'follow-symlinks': { type: 'boolean', default: false },
  compressor: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with the common options, turning its errors into usage errors. */
export function parseCommand<const O extends Options>(argv: string[], extra: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UserError(error instanceof Error ? error.message.replace(/^TypeError \[[A-Z_]+\]: /, '') : String(error));
  }
}

export interface CommonValues {
  repo?: string | undefined;
  store?: string | undefined;
  'max-file-bytes'?: string | undefined;
  exclude?: string[] | undefined;
  'include-secrets'?: boolean | undefined;
  'follow-symlinks'?: boolean | undefined;
  compressor?: string | undefined;
}

export function engineOptions(values: CommonValues, io: CliIO): EngineOptions {
  const maxFileBytes = values['max-file-bytes'] === undefined ? undefined : Number(values['max-file-bytes']);
  if (maxFileBytes !== undefined && !(Number.isInteger(maxFileBytes) && maxFileBytes > 0)) {
    throw new UserError(`--max-file-bytes must be a positive integer, got ${values['max-file-bytes']}`);
  }
  const store = values.store ?? io.env.ENGRAM_STORE_DIR;
  return {
    repo: resolve(io.cwd, values.repo ?? '.'),
    store: store ? resolve(io.cwd, store) : undefined,
    env: io.env,
    maxFileBytes,
    excludes: values.exclude,
    includeSecrets: values['include-secrets'],
    allowSymlinksOutside: values['follow-symlinks'],
    compressor: compressorSpec(values.compressor ?? io.env.ENGRAM_COMPRESSOR, io),
    onWarning: (message) => io.stderr.write(`engram: warning: ${message}\n`),
  };
}

/** `structural`, a model name, or a model folder (resolved against the command's cwd). */
function compressorSpec(value: string | undefined, io: CliIO): string | undefined {
  if (!value) return undefined;
  if (isStructural(value)) return value;
  const dir = resolve(io.cwd, value);
  return existsSync(dir) ? dir : value;
}
