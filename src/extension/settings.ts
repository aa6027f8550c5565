// Settings -> how the engine process is started. Paths and URLs are read only from
// user (machine) scope: package.json declares them "scope": "machine", so a workspace
// cannot point the engine at another model or server. No `vscode` import (tested in node).
import { join } from 'node:path';

export type ReasonerBackend = 'builtin' | 'onnx' | 'openai';
export type Device = 'auto' | 'cuda' | 'cpu';

export interface EngramSettings {
  reasonerBackend: ReasonerBackend;
  reasonerOnnxPath: string;
  reasonerUrl: string;
  reasonerModel: string;
  device: Device;
  topK: number;
  threshold: number | null;
  memoryBudget: number;
  excludes: string[];
  maxFileBytes: number;
  storageLocation: string;
  feedbackEnabled: boolean;
  autoIndex: boolean;
}

/** Reads one setting; `vscode.workspace.getConfiguration('engram').get` fits. */
export type SettingGetter = (key: string) => unknown;

export function readSettings(get: SettingGetter): EngramSettings {
  const s = (k: string, d: string) => (typeof get(k) === 'string' ? (get(k) as string).trim() : d);
  const n = (k: string, d: number, min: number, max: number) => {
    const v = get(k);
    return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : d;
  };
  const backend = get('reasoner.backend');
  const device = get('device');
  const threshold = get('gate.threshold');
  const excludes = get('index.excludes');
  return {
    reasonerBackend: backend === 'onnx' || backend === 'openai' ? backend : 'builtin',
    reasonerOnnxPath: s('reasoner.onnxPath', ''),
    reasonerUrl: s('reasoner.url', ''),
    reasonerModel: s('reasoner.model', ''),
    device: device === 'cuda' || device === 'cpu' ? device : 'auto',
    topK: Math.round(n('gate.topK', 8, 1, 256)),
    threshold: typeof threshold === 'number' && threshold >= 0 && threshold <= 1 ? threshold : null,
    memoryBudget: Math.round(n('memory.budget', 1024, 64, 65536)),
    excludes: Array.isArray(excludes) ? excludes.filter((e): e is string => typeof e === 'string' && e.trim() !== '') : [],
    maxFileBytes: Math.round(n('index.maxFileBytes', 1_000_000, 1024, 1_000_000_000)),
    storageLocation: s('storage.location', ''),
    feedbackEnabled: get('feedback.enabled') !== false,
    autoIndex: get('index.autoStart') !== false,
  };
}

export interface LaunchPaths {
  /** node (the extension host's own executable with ELECTRON_RUN_AS_NODE). */
  execPath: string;
  /** bin/engram.js of the extension. */
  cli: string;
  repo: string;
  /** Default store folder (the extension's workspace storage). */
  defaultStore: string;
  feedbackFile: string;
}

/** The `engram serve --stdio` command line and environment for these settings. */
export function serverLaunch(settings: EngramSettings, paths: LaunchPaths, baseEnv: NodeJS.ProcessEnv): { command: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string } {
  const store = settings.storageLocation || paths.defaultStore;
  const args = [paths.cli, 'serve', '--stdio', '--repo', paths.repo, '--store', store, '--feedback', paths.feedbackFile, '--max-file-bytes', String(settings.maxFileBytes)];
  for (const e of settings.excludes) args.push('--exclude', e);
  const env: NodeJS.ProcessEnv = { ...baseEnv, ELECTRON_RUN_AS_NODE: '1' };
  // The reasoner is chosen by the settings alone, not by whatever the editor inherited.
  delete env.ENGRAM_REASONER;
  delete env.ENGRAM_REASONER_URL;
  delete env.ENGRAM_REASONER_MODEL;
  if (settings.reasonerBackend === 'onnx' && settings.reasonerOnnxPath) env.ENGRAM_REASONER = settings.reasonerOnnxPath;
  if (settings.reasonerBackend === 'openai' && settings.reasonerUrl) {
    env.ENGRAM_REASONER_URL = settings.reasonerUrl;
    env.ENGRAM_REASONER_MODEL = settings.reasonerModel;
  }
  // Built-in: a reasoner named by the environment the editor was started with still wins (tests, CI).
  if (settings.reasonerBackend === 'builtin') {
    for (const k of ['ENGRAM_REASONER', 'ENGRAM_REASONER_URL', 'ENGRAM_REASONER_MODEL'] as const) if (baseEnv[k]) env[k] = baseEnv[k];
  }
  env.ENGRAM_DEVICE = settings.device;
  env.ENGRAM_TOP_K = String(settings.topK);
  env.ENGRAM_MEMORY_BUDGET = String(settings.memoryBudget);
  if (settings.threshold !== null) env.ENGRAM_GATE_THRESHOLD = String(settings.threshold);
  return { command: paths.execPath, args, env, cwd: paths.repo };
}

export function defaultFeedbackPath(globalStorage: string): string {
  return join(globalStorage, 'feedback.jsonl');
}
