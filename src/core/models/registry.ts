// What models are installed: the shipped models/ folder (models/manifest.json),
// the user's model cache, and extra folders the user names.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { UserError } from '../types.js';
import { SOURCE_FILE } from './download.js';
import { onnxVariants } from './layout.js';
import { modelsCacheDir } from './paths.js';
import { chooseProviders, type ProviderName } from './providers.js';
import { readJson } from './tokenizer.js';

export type ModelRole = 'compressor' | 'gate' | 'reasoner';

/** One entry of models/manifest.json (DESIGN.md, "Models"). */
export interface ManifestEntry {
  name: string;
  role: ModelRole;
  version: string;
  path: string;
  files: Array<{ path: string; bytes: number; sha256: string }>;
  eval?: Record<string, unknown>;
}

export interface InstalledModel {
  name: string;
  role: ModelRole | null;
  version: string | null;
  dir: string;
  source: 'shipped' | 'cache' | 'user';
  architecture: string | null;
  onnxFiles: string[];
  bytes: number;
  /** Where it would run now, and why. */
  provider: ProviderName;
  providerNote: string;
  /** Set when the folder is not usable as it is (missing files, bad config). */
  problem?: string;
}

export interface RegistryOptions {
  /** The shipped models folder (default: models/ of the installed package). */
  shippedDir?: string;
  /** The model cache (default: modelsCacheDir(env)). */
  cacheDir?: string;
  /** More folders: a model folder or a folder of model folders (default: ENGRAM_MODEL_PATHS). */
  userDirs?: string[];
  env?: NodeJS.ProcessEnv;
}

const ROLES: readonly ModelRole[] = ['compressor', 'gate', 'reasoner'];
/** Engram's own model types outside the manifest (a cache or ENGRAM_MODEL_PATHS folder); any other decoder is a reasoner. */
const ROLE_OF_TYPE: Readonly<Record<string, ModelRole>> = { 'engram-compressor': 'compressor', 'engram-feature-gate': 'gate' };

/** models/ next to the package.json of the installed engram package. */
export function shippedModelsDir(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return join(dir, 'models');
    const up = dirname(dir);
    if (up === dir) return resolve('models');
    dir = up;
  }
}

/** Parses models/manifest.json; a missing manifest means no shipped models. */
export function readManifest(modelsDir: string): ManifestEntry[] {
  const file = join(modelsDir, 'manifest.json');
  if (!existsSync(file)) return [];
  const json = readJson(file);
  if (!Array.isArray(json.models)) throw new UserError(`${file}: expected {"models": [...]}`);
  return json.models.map((m: unknown, i: number) => {
    const e = m as Partial<ManifestEntry>;
    const bad = (what: string): never => {
      throw new UserError(`${file}: models[${i}] ${what}`);
    };
    if (typeof e.name !== 'string' || !e.name) bad('has no name');
    if (!ROLES.includes(e.role as ModelRole)) bad(`has role ${JSON.stringify(e.role)}; expected one of ${ROLES.join(', ')}`);
    if (typeof e.path !== 'string' || e.path.includes('..')) bad('has no valid path');
    return {
      name: e.name!,
      role: e.role!,
      version: String(e.version ?? ''),
      path: e.path!,
      files: Array.isArray(e.files) ? e.files : [],
      ...(e.eval ? { eval: e.eval } : {}),
    };
  });
}

export function listModels(opts: RegistryOptions = {}): InstalledModel[] {
  const env = opts.env ?? process.env;
  const { providers, note } = chooseProviders('auto');
  const provider = providers[0]!;
  const out: InstalledModel[] = [];
  const shipped = opts.shippedDir ?? shippedModelsDir();
  for (const e of readManifest(shipped)) {
    const dir = join(shipped, e.path);
    const m = describe(dir, e.name, 'shipped', provider, note);
    m.role = e.role;
    m.version = e.version;
    const missing = e.files.filter((f) => !existsSync(join(dir, f.path))).map((f) => f.path);
    if (missing.length) m.problem = `missing ${missing.join(', ')}`;
    out.push(m);
  }
  const cache = opts.cacheDir ?? modelsCacheDir(env);
  for (const dir of subfolders(cache)) out.push(describe(dir, null, 'cache', provider, note));
  const user = opts.userDirs ?? (env.ENGRAM_MODEL_PATHS ? env.ENGRAM_MODEL_PATHS.split(delimiter).filter(Boolean) : []);
  for (const d of user) {
    const dirs = existsSync(join(d, 'config.json')) ? [d] : subfolders(d);
    for (const dir of dirs) out.push(describe(dir, null, 'user', provider, note));
  }
  return out;
}

/** A model by name (manifest name, repo id, or cache folder name) or by folder path. */
export function findModel(nameOrPath: string, opts: RegistryOptions = {}): InstalledModel {
  const all = listModels(opts);
  const hit =
    all.find((m) => m.name === nameOrPath) ??
    all.find((m) => m.name === nameOrPath.replace(/\//g, '--')) ??
    (existsSync(join(nameOrPath, 'config.json')) ? describe(resolve(nameOrPath), null, 'user', 'cpu', '') : undefined);
  if (!hit) throw new UserError(`no installed model "${nameOrPath}" (see engram models list; engram models pull REPO_ID fetches one)`);
  return hit;
}

function subfolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => join(dir, e.name))
    .filter((d) => existsSync(join(d, 'config.json')) || onnxVariants(d).length > 0);
}

function describe(dir: string, name: string | null, source: InstalledModel['source'], provider: ProviderName, note: string): InstalledModel {
  const m: InstalledModel = {
    name: name ?? dir.split(/[\\/]/).pop()!,
    role: null,
    version: null,
    dir,
    source,
    architecture: null,
    onnxFiles: [],
    bytes: 0,
    provider,
    providerNote: note,
  };
  try {
    m.onnxFiles = onnxVariants(dir).map((v) => v.file);
    m.bytes = folderBytes(dir);
    if (existsSync(join(dir, 'config.json'))) {
      const cfg = readJson(join(dir, 'config.json'));
      m.architecture = typeof cfg.model_type === 'string' ? cfg.model_type : null;
      if (!m.role && m.architecture) m.role = ROLE_OF_TYPE[m.architecture] ?? 'reasoner';
    }
    const src = join(dir, SOURCE_FILE);
    if (existsSync(src)) {
      const s = readJson(src);
      if (typeof s.repoId === 'string') m.name = s.repoId;
      if (typeof s.commit === 'string') m.version = s.commit.slice(0, 12);
      else if (typeof s.revision === 'string') m.version = s.revision;
    }
    if (!m.onnxFiles.length) m.problem = 'no ONNX file';
  } catch (err) {
    m.problem = (err as Error).message;
  }
  return m;
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return n;
}
