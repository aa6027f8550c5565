// Reading what a generative reasoner wrote: the memory update's status line, and the
// answer with its citations. Lenient: small models do not always follow the format.
import type { Citation } from '../types.js';
import { CONTINUE, FOUND } from './prompts.js';

export function parseMemoryUpdate(text: string): { memory: string; hasAnswer: boolean } {
  const hasAnswer = text.includes(FOUND);
  const memory = text
    .split(FOUND)
    .join('')
    .split(CONTINUE)
    .join('')
    .replace(/^\s*Notes:\s*/i, '')
    .trim();
  return { memory, hasAnswer };
}

// path:12 or path:12-30; a path has a dot or a slash so that "note:1" is not a citation.
const CITATION = /((?:[\w@.-]+\/)*[\w@.-]*[./][\w@.-]+):(\d+)(?:\s*[-–]\s*(\d+))?/g;

export function parseCitations(text: string): Citation[] {
  const out: Citation[] = [];
  for (const m of text.matchAll(CITATION)) {
    const path = (m[1] ?? '').replace(/^\.\//, '');
    const start = Number(m[2]);
    const end = m[3] === undefined ? start : Number(m[3]);
    if (!path || !(start >= 1)) continue;
    out.push({ path, startLine: Math.min(start, end), endLine: Math.max(start, end) });
  }
  return out;
}

/** `ANSWER: x` / `CITATIONS: a:1-2` (the reply prefix may already be in the prompt). */
export function parseAnswer(text: string): { answer: string; citations: Citation[] } {
  const body = text.replace(/^\s*ANSWER:\s*/i, '');
  const at = body.search(/^\s*CITATIONS?:/im);
  const answerPart = at >= 0 ? body.slice(0, at) : body;
  const citePart = at >= 0 ? body.slice(at) : '';
  const answer = answerPart.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  // Citations may also sit inline in the answer line.
  const citations = [...parseCitations(citePart), ...parseCitations(answer)];
  return { answer, citations };
}
