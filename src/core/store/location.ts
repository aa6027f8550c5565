import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { sha256Hex } from '../hash.js';

/**
 * Where a repository's store lives: `$ENGRAM_STORE_DIR` if set, else
 * `${XDG_CACHE_HOME || ~/.cache}/engram/<first 16 hex of sha256(realpath of repo)>`.
 */
export function defaultStoreDir(repoRoot: string, env: NodeJS.ProcessEnv): string {
  const explicit = env['ENGRAM_STORE_DIR'];
  if (explicit !== undefined && explicit.trim() !== '') return explicit;
  let real: string;
  try {
    real = realpathSync(repoRoot);
  } catch {
    real = resolve(repoRoot);
  }
  const cache = env['XDG_CACHE_HOME'] && env['XDG_CACHE_HOME'].trim() !== '' ? env['XDG_CACHE_HOME'] : join(homedir(), '.cache');
  return join(cache, 'engram', sha256Hex(real).slice(0, 16));
}

/** True for `s3://…`, `gs://…`, `az://…`, `file://…` and other URIs: the store is not a plain local folder. */
export function isUri(dir: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(dir);
}
