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
  reasonerAllowRemote: boolean;
  device: Device;
  topK: number;
  threshold: number | null;
  memoryBudget: number;
  excludes: string[];
  maxFileBytes: number;
  /** A compressor model's name or folder, or `structural` (empty: the installed model, engram-compressor). */
  compressor: string;
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
    reasonerAllowRemote: get('reasoner.allowRemote') === true,
    device: device === 'cuda' || device === 'cpu' ? device : 'auto',
    topK: Math.round(n('gate.topK', 8, 1, 256)),
    threshold: typeof threshold === 'number' && threshold >= 0 && threshold <= 1 ? threshold : null,
    memoryBudget: Math.round(n('memory.budget', 1024, 64, 65536)),
    excludes: Array.isArray(excludes) ? excludes.filter((e): e is string => typeof e === 'string' && e.trim() !== '') : [],
    maxFileBytes: Math.round(n('index.maxFileBytes', 1_000_000, 1024, 1_000_000_000)),
    compressor: s('index.compressor', ''),
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
  if (settings.compressor) args.push('--compressor', settings.compressor);
  // Gate and memory limits go to the server's ask options (engram ask's flags).
  args.push('--max-blocks', String(settings.topK), '--memory-tokens', String(settings.memoryBudget));
  if (settings.threshold !== null) args.push('--threshold', String(settings.threshold));
  // The reasoner comes from the settings; with "builtin" the server picks the shipped one
  // (or one named by ENGRAM_REASONER / ENGRAM_REASONER_URL in the editor's environment).
  if (settings.reasonerBackend === 'onnx' && settings.reasonerOnnxPath) args.push('--backend', 'onnx', '--model', settings.reasonerOnnxPath);
  if (settings.reasonerBackend === 'openai' && settings.reasonerUrl) {
    args.push('--backend', 'openai', '--server', settings.reasonerUrl, '--server-model', settings.reasonerModel);
    if (settings.reasonerAllowRemote) args.push('--allow-remote');
  }
  const env: NodeJS.ProcessEnv = { ...baseEnv, ELECTRON_RUN_AS_NODE: '1', ENGRAM_DEVICE: settings.device };
  return { command: paths.execPath, args, env, cwd: paths.repo };
}

export function defaultFeedbackPath(globalStorage: string): string {
  return join(globalStorage, 'feedback.jsonl');
}

/** Which reasoner the settings select, for feedback records. */
export function reasonerLabel(s: EngramSettings, env: NodeJS.ProcessEnv = {}): string {
  if (s.reasonerBackend === 'onnx' && s.reasonerOnnxPath) return `onnx:${s.reasonerOnnxPath}`;
  if (s.reasonerBackend === 'openai' && s.reasonerUrl) return `openai:${s.reasonerModel}@${s.reasonerUrl}`;
  if (env.ENGRAM_REASONER_URL) return `openai:${env.ENGRAM_REASONER_MODEL ?? ''}@${env.ENGRAM_REASONER_URL}`;
  if (env.ENGRAM_REASONER) return `onnx:${env.ENGRAM_REASONER}`;
  return 'builtin';
}
