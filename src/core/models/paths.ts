// Where models live: the shipped folder (models/ in the repo or the extension),
// the per-user model cache, and the hub endpoint downloads come from.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The model cache: `ENGRAM_MODELS_DIR`, else `$XDG_CACHE_HOME/engram/models` (~/.cache when unset). */
export function modelsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENGRAM_MODELS_DIR) return env.ENGRAM_MODELS_DIR;
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'engram', 'models');
}

/** The hub base URL, following the `HF_ENDPOINT` convention. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

/** The folder a downloaded repo is kept in: `<cache>/<owner>--<name>` (one level, no nesting). */
export function repoCacheFolder(cacheDir: string, repoId: string): string {
  return join(cacheDir, repoId.replace(/\//g, '--'));
}
