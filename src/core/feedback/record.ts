// Feedback on one asked question (DESIGN.md "Feedback files"): what the user said about an
// answer, with the full trace and the model versions, one JSON object per line on disk.
// The record shape is the one training/engram_training/qa/feedback.py reads.
import { UserError, type Citation, type TraceEvent } from '../types.js';

export type Verdict = 'up' | 'down';

/** A block the user marked; `text` is the block's compressed form when it was known. */
export interface MarkedBlock extends Citation {
  blockId?: string;
  relevant: boolean;
  text?: string;
}

/** What a client sends: the question, what the engine answered, and the user's verdict. */
export interface FeedbackInput {
  /** The client's id of the asked question: a later record with the same id replaces an earlier one. */
  askId?: string;
  question: string;
  answer: string;
  citations: Citation[];
  trace: TraceEvent[];
  verdict?: Verdict;
  correctedAnswer?: string;
  blocks?: MarkedBlock[];
  mode?: string;
  /** Model versions the client knows (the reasoner it configured); the server adds its own. */
  models?: Record<string, string>;
}

/** One line of the feedback file. */
export interface FeedbackRecord extends Omit<FeedbackInput, 'models'> {
  id: string;
  repo: string;
  models: Record<string, string>;
  timestamp: string;
}

const TRACE_TYPES = new Set(['gate', 'read', 'memory', 'answer', 'error']);
const MAX_TEXT = 200_000;

/** Checks untrusted input field by field; throws a UserError naming the first bad field. */
export function parseFeedbackInput(value: unknown): FeedbackInput {
  const v = object(value, 'feedback');
  const question = text(v.question, 'question', true);
  const answer = text(v.answer ?? '', 'answer', false);
  const citations = list(v.citations ?? [], 'citations').map((c, i) => range(c, `citations[${i}]`));
  const trace = list(v.trace ?? [], 'trace').map((e, i) => traceEvent(e, `trace[${i}]`));
  const out: FeedbackInput = { question, answer, citations, trace };
  if (v.verdict !== undefined && v.verdict !== null) {
    if (v.verdict !== 'up' && v.verdict !== 'down') throw new UserError(`verdict must be "up" or "down"`);
    out.verdict = v.verdict;
  }
  if (v.correctedAnswer !== undefined && v.correctedAnswer !== null) {
    const corrected = text(v.correctedAnswer, 'correctedAnswer', false).trim();
    if (corrected) out.correctedAnswer = corrected;
  }
  if (v.blocks !== undefined && v.blocks !== null) {
    out.blocks = list(v.blocks, 'blocks').map((b, i) => markedBlock(b, `blocks[${i}]`));
  }
  if (typeof v.mode === 'string') out.mode = v.mode;
  if (v.models !== undefined && v.models !== null) {
    const m = object(v.models, 'models');
    const entries = Object.entries(m).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length <= 1000).slice(0, 20);
    if (entries.length) out.models = Object.fromEntries(entries);
  }
  if (typeof v.askId === 'string' && v.askId) out.askId = text(v.askId, 'askId', true).slice(0, 200);
  if (!out.verdict && !out.correctedAnswer && !out.blocks?.length) {
    throw new UserError('feedback needs a verdict, a corrected answer or marked blocks');
  }
  return out;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UserError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string, nonEmpty: boolean): string {
  if (typeof value !== 'string') throw new UserError(`${what} must be a string`);
  if (nonEmpty && !value.trim()) throw new UserError(`${what} is empty`);
  if (value.length > MAX_TEXT) throw new UserError(`${what} is longer than ${MAX_TEXT} characters`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new UserError(`${what} must be an array`);
  return value;
}

function line(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new UserError(`${what} must be a line number (1 or more)`);
  return value;
}

function range(value: unknown, what: string): Citation {
  const v = object(value, what);
  const path = text(v.path, `${what}.path`, true);
  const startLine = line(v.startLine, `${what}.startLine`);
  const endLine = line(v.endLine, `${what}.endLine`);
  if (endLine < startLine) throw new UserError(`${what}: endLine is before startLine`);
  return { path, startLine, endLine };
}

function markedBlock(value: unknown, what: string): MarkedBlock {
  const v = object(value, what);
  if (typeof v.relevant !== 'boolean') throw new UserError(`${what}.relevant must be true or false`);
  const out: MarkedBlock = { ...range(v, what), relevant: v.relevant };
  if (typeof v.blockId === 'string' && v.blockId) out.blockId = v.blockId;
  if (typeof v.text === 'string') out.text = v.text;
  return out;
}

function traceEvent(value: unknown, what: string): TraceEvent {
  const v = object(value, what);
  if (typeof v.type !== 'string' || !TRACE_TYPES.has(v.type)) throw new UserError(`${what}.type is not a trace event type`);
  if (typeof v.step !== 'number' || typeof v.ms !== 'number') throw new UserError(`${what} needs numeric step and ms`);
  const out: TraceEvent = { type: v.type as TraceEvent['type'], step: v.step, ms: v.ms };
  for (const key of ['blockId', 'path', 'memory', 'text'] as const) if (typeof v[key] === 'string') out[key] = v[key];
  for (const key of ['startLine', 'endLine', 'score', 'tokens'] as const) if (typeof v[key] === 'number') out[key] = v[key];
  return out;
}
