// Model download from a Hugging Face hub (or a mirror at HF_ENDPOINT): file list
// from the API, files resumed with HTTP Range into a hidden staging folder,
// sha256-verified, then moved into the cache in one rename.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { CancelledError, UserError } from '../types.js';
import { hubEndpoint, modelsCacheDir, repoCacheFolder } from './paths.js';

export interface PullProgress {
  file: string;
  fileBytes: number;
  fileTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface PullOptions {
  revision?: string;
  /** Hub base URL (default: HF_ENDPOINT, else https://huggingface.co). */
  baseUrl?: string;
  /** Model cache (default: ENGRAM_MODELS_DIR, else $XDG_CACHE_HOME/engram/models). */
  cacheDir?: string;
  /** Glob patterns of files to fetch (default: all). */
  include?: string[];
  /** Bearer token for gated repos (default: HF_TOKEN). */
  token?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
  /** Resumed attempts per file after a dropped connection (default 5). */
  retries?: number;
}

export interface PulledModel {
  repoId: string;
  revision: string;
  commit: string | null;
  dir: string;
  files: Array<{ path: string; bytes: number; sha256: string }>;
}

interface HubFile {
  path: string;
  size: number | null;
  sha256: string | null;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
export const SOURCE_FILE = '.engram-source.json';

export async function pullModel(repoId: string, opts: PullOptions = {}): Promise<PulledModel> {
  if (!REPO_ID.test(repoId) || repoId.includes('..')) throw new UserError(`not a model repo id (owner/name): ${repoId}`);
  const env = opts.env ?? process.env;
  const base = (opts.baseUrl ?? hubEndpoint(env)).replace(/\/+$/, '');
  const revision = opts.revision ?? 'main';
  const cacheDir = opts.cacheDir ?? modelsCacheDir(env);
  const token = opts.token ?? env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const repoPath = repoId.split('/').map(encodeURIComponent).join('/');
  const rev = encodeURIComponent(revision);

  const { files: listed, commit } = await listFiles(`${base}/api/models/${repoPath}/revision/${rev}?blobs=true`, repoId, revision, headers, opts.signal);
  const match = opts.include?.length ? picomatch(opts.include, { dot: true }) : null;
  const files = listed.filter((f) => !match || match(f.path));
  if (!files.length) throw new UserError(`no files to fetch from ${repoId}@${revision}${opts.include ? ` matching ${opts.include.join(', ')}` : ''}`);

  const finalDir = repoCacheFolder(cacheDir, repoId);
  const staging = join(cacheDir, '.partial', `${repoId.replace(/\//g, '--')}@${revision.replace(/[^\w.-]/g, '_')}`);
  mkdirSync(staging, { recursive: true });
  const bytesTotal = files.reduce((s, f) => s + (f.size ?? 0), 0);
  let bytesBefore = 0;
  const done: PulledModel['files'] = [];
  for (const f of files) {
    const target = join(staging, f.path);
    const url = `${base}/${repoPath}/resolve/${rev}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
    const progress = (fileBytes: number): void =>
      opts.onProgress?.({ file: f.path, fileBytes, fileTotal: f.size ?? 0, bytesDone: bytesBefore + fileBytes, bytesTotal });
    let sha: string;
    if (existsSync(target) && f.sha256 && (await sha256File(target)) === f.sha256) {
      sha = f.sha256; // finished in an earlier, interrupted pull
      progress(statSync(target).size);
    } else {
      await fetchResumable(url, target, f, headers, opts.retries ?? 5, progress, opts.signal);
      sha = await sha256File(target + '.partial');
      if (f.sha256 && sha !== f.sha256) {
        // A corrupt download must not stay around to be resumed or installed.
        rmSync(staging, { recursive: true, force: true });
        throw new Error(`checksum mismatch for ${f.path} from ${repoId}@${revision}: expected sha256 ${f.sha256}, got ${sha}; nothing was installed`);
      }
      renameSync(target + '.partial', target);
    }
    const bytes = statSync(target).size;
    if (f.size !== null && bytes !== f.size) {
      rmSync(staging, { recursive: true, force: true });
      throw new Error(`size mismatch for ${f.path} from ${repoId}@${revision}: expected ${f.size} bytes, got ${bytes}; nothing was installed`);
    }
    bytesBefore += bytes;
    done.push({ path: f.path, bytes, sha256: sha });
  }
  const result: PulledModel = { repoId, revision, commit, dir: finalDir, files: done };
  writeFileSync(join(staging, SOURCE_FILE), JSON.stringify({ ...result, dir: undefined, pulledAt: new Date().toISOString() }, null, 2) + '\n');
  // Swap in atomically: the old copy (if any) moves aside first, then goes.
  mkdirSync(dirname(finalDir), { recursive: true });
  const old = existsSync(finalDir) ? `${staging}.old` : null;
  if (old) renameSync(finalDir, old);
  renameSync(staging, finalDir);
  if (old) rmSync(old, { recursive: true, force: true });
  return result;
}

async function listFiles(
  url: string,
  repoId: string,
  revision: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<{ files: HubFile[]; commit: string | null }> {
  let res: Response;
  try {
    res = await fetch(url, { headers, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (signal?.aborted) throw new CancelledError('download cancelled');
    throw new Error(`cannot reach ${new URL(url).origin}: ${netReason(err)}`);
  }
  if (res.status === 401 || res.status === 403) throw new UserError(`${repoId} needs access (${res.status}): set HF_TOKEN to a token that can read it`);
  if (res.status === 404) throw new UserError(`model repo ${repoId} (revision ${revision}) not found at ${new URL(url).origin}`);
  if (!res.ok) throw new Error(`listing ${repoId} failed: HTTP ${res.status}`);
  const json = (await res.json()) as { sha?: string; siblings?: Array<{ rfilename?: string; size?: number; lfs?: { sha256?: string; size?: number } }> };
  const files: HubFile[] = [];
  for (const s of json.siblings ?? []) {
    const path = s.rfilename ?? '';
    // Paths come from the server: never let one climb out of the model folder.
    if (!path || path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '') || path.includes('\\')) {
      throw new Error(`refusing unsafe file path from ${repoId}: ${JSON.stringify(path)}`);
    }
    files.push({ path, size: s.lfs?.size ?? s.size ?? null, sha256: s.lfs?.sha256 ?? null });
  }
  return { files, commit: json.sha ?? null };
}

async function fetchResumable(
  url: string,
  target: string,
  f: HubFile,
  headers: Record<string, string>,
  retries: number,
  progress: (bytes: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const partial = target + '.partial';
  mkdirSync(dirname(partial), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new CancelledError('download cancelled');
    let have = existsSync(partial) ? statSync(partial).size : 0;
    if (f.size !== null && have > f.size) {
      rmSync(partial);
      have = 0;
    }
    if (f.size !== null && have === f.size) return;
    try {
      const res = await fetch(url, { headers: have ? { ...headers, range: `bytes=${have}-` } : headers, ...(signal ? { signal } : {}) });
      if (res.status === 416 && have > 0) return; // already complete
      if (!res.ok || !res.body) throw new HttpStatus(res.status, `HTTP ${res.status} for ${f.path}`);
      // A server that ignores Range sends the whole file again.
      const append = have > 0 && res.status === 206;
      if (!append) have = 0;
      const out = createWriteStream(partial, { flags: append ? 'a' : 'w' });
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
          have += chunk.length;
          progress(have);
        }
      } finally {
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
      if (f.size === null || have >= f.size) return;
      throw new Error(`connection closed after ${have} of ${f.size} bytes`);
    } catch (err) {
      if (signal?.aborted) throw new CancelledError('download cancelled');
      if (err instanceof HttpStatus && err.status < 500 && err.status !== 429) throw new Error(`download of ${f.path} failed: ${err.message}`);
      if (attempt >= retries) throw new Error(`download of ${f.path} failed after ${attempt + 1} attempts: ${netReason(err)} (run the pull again to resume)`);
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
    }
  }
}

class HttpStatus extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function netReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

