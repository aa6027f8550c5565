// `engram ask "QUESTION"`: the answer with verified citations; --json gives DESIGN.md's
// object with every trace step. Reasoner and gate options are shared with eval and serve.
import { join } from 'node:path';
import { DEFAULT_MAX_BLOCKS, openGate, type GateOptions, type GateScorer } from '../../core/gate/index.js';
import { defaultReasonerSpec, openReasoner, REASONER_BACKENDS, type Reasoner, type ReasonerSpec } from '../../core/reason/index.js';
import { ASK_MODES, CancelledError, UserError, type AskMode, type AskResult } from '../../core/types.js';
import { checkQuestion, referencesTitle, type AskOptions } from '../../core/ask/index.js';
import type { Engine } from '../../core/engine.js';
import { AskRequest, RpcErrorCode, TraceNotification, WarningNotification, type AskParams } from '../../core/protocol.js';
import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc/node';
import { writeJson, type CliIO, type Command } from '../io.js';
import { usageOf } from '../help.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';

export const ASK_OPTIONS = {
  mode: { type: 'string', default: 'gated' },
  backend: { type: 'string' },
  model: { type: 'string' },
  server: { type: 'string' },
  'server-model': { type: 'string' },
  'context-tokens': { type: 'string' },
  'allow-remote': { type: 'boolean', default: false },
  gate: { type: 'string' },
  threshold: { type: 'string' },
  'min-blocks': { type: 'string' },
  'max-blocks': { type: 'string' },
  'block-budget': { type: 'string' },
  'memory-tokens': { type: 'string' },
  'max-tokens': { type: 'string' },
  'time-budget': { type: 'string' },
  'rag-k': { type: 'string' },
} as const;

export interface AskValues {
  mode?: string | undefined;
  backend?: string | undefined;
  model?: string | undefined;
  server?: string | undefined;
  'server-model'?: string | undefined;
  'context-tokens'?: string | undefined;
  'allow-remote'?: boolean | undefined;
  gate?: string | undefined;
  threshold?: string | undefined;
  'min-blocks'?: string | undefined;
  'max-blocks'?: string | undefined;
  'block-budget'?: string | undefined;
  'memory-tokens'?: string | undefined;
  'max-tokens'?: string | undefined;
  'time-budget'?: string | undefined;
  'rag-k'?: string | undefined;
}

function num(v: string | undefined, what: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const ok = Number.isFinite(n) && (!opts.integer || Number.isInteger(n)) && n >= (opts.min ?? 0) && n <= (opts.max ?? Number.MAX_SAFE_INTEGER);
  if (!ok) throw new UserError(`${what} must be ${opts.integer ? 'an integer' : 'a number'}${opts.max !== undefined ? ` from ${opts.min ?? 0} to ${opts.max}` : ` >= ${opts.min ?? 0}`}, got ${v}`);
  return n;
}

export function parseMode(v: string | undefined): AskMode {
  const mode = (v ?? 'gated') as AskMode;
  if (!ASK_MODES.includes(mode)) throw new UserError(`--mode must be one of ${ASK_MODES.join(', ')}, got ${v}`);
  return mode;
}

export function reasonerSpec(values: AskValues, env: NodeJS.ProcessEnv): ReasonerSpec {
  const memoryTokens = num(values['memory-tokens'], '--memory-tokens', { integer: true, min: 16 });
  const backend = values.backend ?? (values.server ? 'openai' : values.model ? 'onnx' : undefined);
  if (backend !== undefined && !(REASONER_BACKENDS as readonly string[]).includes(backend)) {
    throw new UserError(`--backend must be one of ${REASONER_BACKENDS.join(', ')}, got ${backend}`);
  }
  let spec: ReasonerSpec;
  if (backend === 'openai') {
    const baseUrl = values.server ?? env.ENGRAM_REASONER_URL;
    const model = values['server-model'] ?? (values.server ? values.model : undefined) ?? env.ENGRAM_REASONER_MODEL;
    if (!baseUrl) throw new UserError('--backend openai needs --server URL (or ENGRAM_REASONER_URL)');
    if (!model) throw new UserError('--backend openai needs --server-model NAME (or ENGRAM_REASONER_MODEL)');
    const contextTokens = num(values['context-tokens'], '--context-tokens', { integer: true, min: 256 });
    spec = { backend: 'openai', baseUrl, model, env, allowRemote: values['allow-remote'] ?? false, ...(contextTokens ? { contextTokens } : {}) };
  } else if (backend === 'onnx') {
    const model = values.model ?? env.ENGRAM_REASONER;
    spec = model ? { backend: 'onnx', model, env } : defaultReasonerSpec({ ...env, ENGRAM_REASONER_URL: '' });
  } else {
    spec = defaultReasonerSpec(env);
  }
  return memoryTokens ? { ...spec, memoryTokens } : spec;
}

export function gateOptions(values: AskValues): GateOptions {
  const o: GateOptions = {};
  const threshold = num(values.threshold, '--threshold', { min: 0, max: 1 });
  const minBlocks = num(values['min-blocks'], '--min-blocks', { integer: true, min: 0 });
  const maxBlocks = num(values['max-blocks'], '--max-blocks', { integer: true, min: 1 });
  const tokenBudget = num(values['block-budget'], '--block-budget', { integer: true, min: 1 });
  if (threshold !== undefined) o.threshold = threshold;
  if (minBlocks !== undefined) o.minBlocks = minBlocks;
  if (maxBlocks !== undefined) o.maxBlocks = maxBlocks;
  if (tokenBudget !== undefined) o.tokenBudget = tokenBudget;
  if (minBlocks !== undefined && maxBlocks !== undefined && minBlocks > maxBlocks) throw new UserError('--min-blocks cannot exceed --max-blocks');
  // A minimum above the default maximum raises the maximum with it.
  if (minBlocks !== undefined && maxBlocks === undefined && minBlocks > DEFAULT_MAX_BLOCKS) o.maxBlocks = minBlocks;
  return o;
}

/** A reasoner's per-block cache (latent states) lives with the blocks it was computed from. */
function reasonerCacheDir(engine: Engine): string {
  return join(engine.storeDir, 'latent');
}

/** Everything `ask` needs besides the question; the caller closes reasoner and gate. */
export async function askSetup(values: AskValues, io: CliIO, engine: Engine): Promise<{ options: AskOptions; close: () => Promise<void> }> {
  const mode = parseMode(values.mode);
  const gOpts = gateOptions(values);
  const maxTokens = num(values['max-tokens'], '--max-tokens', { integer: true, min: 1 });
  const seconds = num(values['time-budget'], '--time-budget', { min: 0.001 });
  const ragK = num(values['rag-k'], '--rag-k', { integer: true, min: 1, max: 1000 });
  const onWarning = (m: string): void => void io.stderr.write(`engram: warning: ${m}\n`);
  const reasoner: Reasoner = await openReasoner(reasonerSpec(values, io.env), { onWarning, cacheDir: reasonerCacheDir(engine) });
  let gate: GateScorer | null = null;
  if (mode === 'gated') gate = await openGate(values.gate, { env: io.env, onWarning });
  return {
    options: {
      mode,
      reasoner,
      gate,
      gateOptions: gOpts,
      signal: io.signal,
      onWarning,
      ...(maxTokens ? { maxTokens } : {}),
      ...(seconds ? { timeoutMs: seconds * 1000 } : {}),
      ...(ragK ? { ragK } : {}),
    },
    close: async () => {
      await reasoner.close();
      await gate?.close();
    },
  };
}

export const askCommand: Command = async (argv, io) => {
  const { values, positionals } = parseCommand(argv, ASK_OPTIONS);
  const question = positionals.join(' ');
  if (question.trim() === '') throw new UserError(usageOf('ask'));
  // Before any model loads: ONNX Runtime's first session overflows the stack when the
  // process's command line holds a question far over the limit (100 KB).
  checkQuestion(question);
  return withEngine(values, io, async (engine) => {
    const { options, close } = await askSetup(values, io, engine);
    let result: AskResult;
    try {
      result = await engine.ask(question, options);
    } finally {
      await close();
    }
    if (values.json) {
      writeJson(io, result);
      return 0;
    }
    io.stdout.write(`${result.answer || '(no answer)'}\n`);
    if (result.citations.length) io.stdout.write(`\n${result.citations.map((c) => `  ${c.path}:${c.startLine}-${c.endLine}`).join('\n')}\n`);
    // A uses question lists every use found, also those past what the answer could cite.
    const refs = result.references ?? [];
    if (refs.length) {
      io.stdout.write(`\n${referencesTitle(refs)}:\n${refs.map((r) => `  ${r.path}:${r.startLine}: ${r.text}`).join('\n')}\n`);
    }
    const s = result.stats;
    if (result.interpreted) io.stderr.write(`engram: read the question as: ${result.interpreted}\n`);
    io.stderr.write(
      `engram: ${options.mode} read ${s.blocksRead}/${s.blocksTotal} blocks (${s.tokensRead} tokens) in ${(s.ms / 1000).toFixed(1)} s, peak ${s.peakRssMb} MB` +
        `${s.citationsDropped ? `; ${s.citationsDropped} citation(s) outside the lines read were dropped` : ''}${s.stopped ? `; ${s.stopped}` : ''}` +
        `${result.confidence === 'evidence' ? '; low confidence: evidence only, not an answer' : ''}\n`,
    );
    return 0;
  });
};

/**
 * The JSON-RPC `ask` request for `engram serve`: trace events stream as `trace`
 * notifications tagged with the question's askId; a cancelled request stops the loop.
 * Reasoner and gate load on the first question and stay loaded.
 */
export function registerAskHandler(connection: MessageConnection, engine: Engine, values: AskValues, io: CliIO): { close: () => Promise<void> } {
  let reasoner: Promise<Reasoner> | undefined;
  let gate: Promise<GateScorer | null> | undefined;
  let asked = 0;
  const onWarning = (message: string): void => void connection.sendNotification(WarningNotification, { message });
  connection.onRequest(AskRequest, async (params: AskParams, token: CancellationToken) => {
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    try {
      const mode = parseMode(params?.mode ?? values.mode);
      const question = String(params?.question ?? '');
      checkQuestion(question);
      reasoner ??= openReasoner(reasonerSpec(values, io.env), { onWarning, cacheDir: reasonerCacheDir(engine) }).catch((e: unknown) => {
        reasoner = undefined;
        throw e;
      });
      if (mode === 'gated') gate ??= openGate(values.gate, { env: io.env, onWarning });
      const askId = params?.askId ?? `ask-${++asked}`;
      return await engine.ask(question, {
        mode,
        reasoner: await reasoner,
        gate: mode === 'gated' ? await gate : null,
        gateOptions: gateOptions(values),
        signal: controller.signal,
        onWarning,
        onTrace: (event) => void connection.sendNotification(TraceNotification, { askId, event }),
        ...(params?.pinned ? { pinned: params.pinned } : {}),
        ...(params?.excluded ? { excluded: params.excluded } : {}),
      });
    } catch (error) {
      if (error instanceof UserError) throw new ResponseError(RpcErrorCode.UserError, error.message);
      if (error instanceof CancelledError) throw new ResponseError(RpcErrorCode.Cancelled, error.message);
      throw new ResponseError(RpcErrorCode.EngineFailure, error instanceof Error ? error.message : String(error));
    } finally {
      sub.dispose();
    }
  });
  return {
    close: async () => {
      await (await reasoner?.catch(() => null))?.close();
      await (await gate?.catch(() => null))?.close();
    },
  };
}
