// Opening ONNX files as onnxruntime-node sessions: provider choice with CPU
// fallback, thread counts, and a clear message naming the file when it is broken.
import { existsSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { UserError } from '../types.js';
import { chooseProviders, cpuThreads, type ProviderName, type ProviderPreference } from './providers.js';

export interface SessionOptions {
  /** 'auto' (default): CUDA when usable, else CPU. */
  provider?: ProviderPreference;
  /** Intra-op CPU threads (default: cpuThreads()). */
  threads?: number;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  /** The provider the session runs on. */
  provider: ProviderName;
  /** Why that provider (e.g. which CUDA library is missing). */
  providerNote: string;
  file: string;
}

export async function openSession(file: string, opts: SessionOptions = {}): Promise<OpenedSession> {
  if (!existsSync(file)) throw new UserError(`model file not found: ${file}`);
  if (statSync(file).size === 0) throw new UserError(`model file is empty: ${file}`);
  const { providers, note } = chooseProviders(opts.provider ?? 'auto');
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads ?? cpuThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  if (providers[0] === 'cuda') {
    try {
      const session = await ort.InferenceSession.create(file, { ...base, executionProviders: ['cuda', 'cpu'] });
      return { session, provider: 'cuda', providerNote: note, file };
    } catch (err) {
      if (opts.provider === 'cuda') throw loadError(file, err);
      const why = `CUDA session failed (${firstLine(err)}); running on CPU`;
      return { session: await createCpu(file, base), provider: 'cpu', providerNote: why, file };
    }
  }
  if (opts.provider === 'cuda') throw new UserError(`CUDA requested for ${file} but ${note}`);
  return { session: await createCpu(file, base), provider: 'cpu', providerNote: note, file };
}

async function createCpu(file: string, base: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] });
  } catch (err) {
    throw loadError(file, err);
  }
}

function loadError(file: string, err: unknown): UserError {
  const msg = firstLine(err);
  const hint = /protobuf|parsing|invalid|corrupt|external data|size/i.test(msg)
    ? ' (the file looks truncated or corrupt: download it again)'
    : '';
  return new UserError(`cannot load ONNX model ${file}: ${msg}${hint}`);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]!.trim();
}

/** Names and element types of a session's inputs (tensor inputs only). */
export function inputTypes(session: ort.InferenceSession): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of session.inputMetadata) if (m.isTensor) out.set(m.name, m.type);
  return out;
}

/** Static dims of an input (null for symbolic ones). */
export function inputShape(session: ort.InferenceSession, name: string): Array<number | null> | null {
  const m = session.inputMetadata.find((x) => x.name === name);
  if (!m || !m.isTensor) return null;
  return m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null));
}
