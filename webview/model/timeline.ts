// The trace as a timeline: one entry per step of the reasoner (DESIGN.md "Trace events").
// Consecutive gate events form one gate round; a read is followed by the memory rewrite
// it caused, shown as a diff against the memory before it.
import type { TraceEvent } from '../../src/core/types.js';

export interface GateCandidate {
  blockId: string;
  path?: string;
  startLine?: number;
  endLine?: number;
  score: number | null;
  kept: boolean;
}

export type TimelineEntry =
  | { kind: 'gate'; step: number; round: number; candidates: GateCandidate[]; kept: number; text?: string; ms: number }
  | { kind: 'read'; step: number; blockId?: string; path?: string; startLine?: number; endLine?: number; score?: number; text?: string; tokens?: number; ms: number; memory?: MemoryChange }
  | { kind: 'memory'; step: number; memory: MemoryChange; tokens?: number; ms: number }
  | { kind: 'answer'; step: number; text: string; tokens?: number; ms: number }
  | { kind: 'error'; step: number; text: string; ms: number };

export interface MemoryChange {
  before: string;
  after: string;
  diff: DiffPart[];
}

export interface DiffPart {
  op: 'same' | 'add' | 'del';
  text: string;
}

const KEPT_WORDS = /\b(kept|keep|selected|read)\b/i;
const DROPPED_WORDS = /\b(dropped|drop|skipped|rejected)\b/i;

export function timeline(steps: readonly TraceEvent[]): TimelineEntry[] {
  const readIds = new Set(steps.filter((e) => e.type === 'read' && e.blockId).map((e) => e.blockId!));
  const out: TimelineEntry[] = [];
  let memory = '';
  let round = 0;
  for (const e of steps) {
    const last = out.at(-1);
    switch (e.type) {
      case 'gate': {
        const candidate: GateCandidate | null = e.blockId
          ? {
              blockId: e.blockId,
              ...(e.path !== undefined ? { path: e.path } : {}),
              ...(e.startLine !== undefined ? { startLine: e.startLine } : {}),
              ...(e.endLine !== undefined ? { endLine: e.endLine } : {}),
              score: e.score ?? null,
              kept: e.text && DROPPED_WORDS.test(e.text) ? false : e.text && KEPT_WORDS.test(e.text) ? true : readIds.has(e.blockId),
            }
          : null;
        if (last?.kind === 'gate') {
          if (candidate) last.candidates.push(candidate);
          last.kept = last.candidates.filter((c) => c.kept).length;
          last.ms += e.ms;
          if (!candidate && e.text) last.text = e.text;
        } else {
          round++;
          out.push({ kind: 'gate', step: e.step, round, candidates: candidate ? [candidate] : [], kept: candidate?.kept ? 1 : 0, ...(candidate || !e.text ? {} : { text: e.text }), ms: e.ms });
        }
        break;
      }
      case 'read':
        out.push({ kind: 'read', step: e.step, ...pick(e), ms: e.ms });
        break;
      case 'memory': {
        const after = e.memory ?? e.text ?? '';
        const change: MemoryChange = { before: memory, after, diff: diffWords(memory, after) };
        memory = after;
        if (last?.kind === 'read' && !last.memory) {
          last.memory = change;
          last.ms += e.ms;
        } else out.push({ kind: 'memory', step: e.step, memory: change, ...(e.tokens !== undefined ? { tokens: e.tokens } : {}), ms: e.ms });
        break;
      }
      case 'answer':
        if (last?.kind === 'answer') {
          last.text = mergeStream(last.text, e.text ?? '');
          last.ms += e.ms;
          if (e.tokens !== undefined) last.tokens = e.tokens;
        } else out.push({ kind: 'answer', step: e.step, text: e.text ?? '', ...(e.tokens !== undefined ? { tokens: e.tokens } : {}), ms: e.ms });
        break;
      case 'error':
        out.push({ kind: 'error', step: e.step, text: e.text ?? 'error', ms: e.ms });
        break;
    }
  }
  return out;
}

function pick(e: TraceEvent) {
  const o: { blockId?: string; path?: string; startLine?: number; endLine?: number; score?: number; text?: string; tokens?: number } = {};
  if (e.blockId !== undefined) o.blockId = e.blockId;
  if (e.path !== undefined) o.path = e.path;
  if (e.startLine !== undefined) o.startLine = e.startLine;
  if (e.endLine !== undefined) o.endLine = e.endLine;
  if (e.score !== undefined) o.score = e.score;
  if (e.text !== undefined) o.text = e.text;
  if (e.tokens !== undefined) o.tokens = e.tokens;
  return o;
}

/** Streamed text arrives either as the whole text so far or as the next piece. */
export function mergeStream(sofar: string, next: string): string {
  if (!sofar) return next;
  return next.startsWith(sofar) ? next : sofar + next;
}

/** Word-level diff (LCS); long texts fall back to "all removed, all added". */
export function diffWords(before: string, after: string): DiffPart[] {
  const a = before.split(/(\s+)/).filter((t) => t !== '');
  const b = after.split(/(\s+)/).filter((t) => t !== '');
  if (a.length * b.length > 4_000_000) return compact([{ op: 'del', text: before }, { op: 'add', text: after }]);
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const parts: DiffPart[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      parts.push({ op: 'same', text: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) parts.push({ op: 'del', text: a[i++]! });
    else parts.push({ op: 'add', text: b[j++]! });
  }
  while (i < n) parts.push({ op: 'del', text: a[i++]! });
  while (j < m) parts.push({ op: 'add', text: b[j++]! });
  return compact(parts);
}

function compact(parts: DiffPart[]): DiffPart[] {
  const out: DiffPart[] = [];
  for (const p of parts) {
    if (!p.text) continue;
    const last = out.at(-1);
    if (last && last.op === p.op) last.text += p.text;
    else out.push({ ...p });
  }
  return out;
}

/** Total tokens and time of a trace, for the summary line. */
export function traceTotals(steps: readonly TraceEvent[]): { tokens: number; ms: number; reads: number } {
  let tokens = 0;
  let ms = 0;
  let reads = 0;
  for (const e of steps) {
    ms += e.ms;
    if (e.type === 'read') {
      reads++;
      tokens += e.tokens ?? 0;
    }
  }
  return { tokens, ms, reads };
}
