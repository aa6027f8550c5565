// An answer's text with its citations turned into links: `path:12` or `path:12-30` where
// the path is one the engine cited (or a cited path's file name).
import type { Citation } from '../../src/core/types.js';

export type AnswerPart = { kind: 'text'; text: string } | { kind: 'cite'; text: string; citation: Citation };

const REF = /([\w./@-]*[\w-]\.[\w]+|[\w./@-]+\/[\w.@-]+):(\d+)(?:[-–](\d+))?/g;

export function linkCitations(answer: string, citations: readonly Citation[]): AnswerPart[] {
  const parts: AnswerPart[] = [];
  let at = 0;
  for (const m of answer.matchAll(REF)) {
    const [whole, path = '', s = '', e] = m;
    const start = Number(s);
    const end = e ? Number(e) : start;
    const cited = citations.find((c) => c.path === path || c.path.endsWith(`/${path}`));
    if (!cited || start < 1 || end < start) continue;
    if (m.index > at) parts.push({ kind: 'text', text: answer.slice(at, m.index) });
    parts.push({ kind: 'cite', text: whole, citation: { path: cited.path, startLine: start, endLine: end } });
    at = m.index + whole.length;
  }
  if (at < answer.length) parts.push({ kind: 'text', text: answer.slice(at) });
  return parts;
}

export function citationLabel(c: Citation): string {
  return c.startLine === c.endLine ? `${c.path}:${c.startLine}` : `${c.path}:${c.startLine}-${c.endLine}`;
}
