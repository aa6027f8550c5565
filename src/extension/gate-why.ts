// Why the gate kept or dropped each candidate of a question, read from its trace. No `vscode` import.
import type { TraceEvent } from '../core/types.js';
import type { GateWhy } from './webview-protocol.js';

/** Gate decisions from a trace: a candidate counts as kept when the trace says so or it was read. */
export function gateWhy(question: string, steps: readonly TraceEvent[]): GateWhy {
  const read = new Set(steps.filter((e) => e.type === 'read' && e.blockId).map((e) => e.blockId!));
  const decisions: GateWhy['decisions'] = [];
  let round = 0;
  let inGate = false;
  for (const e of steps) {
    if (e.type !== 'gate') {
      inGate = false;
      continue;
    }
    if (!inGate) round++;
    inGate = true;
    if (!e.blockId) continue;
    const said = e.text ?? '';
    const kept = /\b(dropped|skipped|rejected)\b/i.test(said) ? false : /\b(kept|selected)\b/i.test(said) ? true : read.has(e.blockId);
    decisions.push({ blockId: e.blockId, score: e.score ?? null, kept, round });
  }
  return { question, decisions };
}
