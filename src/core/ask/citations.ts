// Citations are only as good as what was read: each one must fall inside lines the
// reasoner actually saw. It is clipped to them, or dropped and counted.
import type { Citation } from '../types.js';

export interface Span {
  path: string;
  startLine: number;
  endLine: number;
}

export function verifyCitations(cited: readonly Citation[], read: readonly Span[]): { citations: Citation[]; dropped: number } {
  const byPath = new Map<string, Span[]>();
  for (const s of read) byPath.set(s.path, [...(byPath.get(s.path) ?? []), s]);
  const out: Citation[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const c of cited) {
    const spans = byPath.get(c.path) ?? [];
    const hit = spans.find((s) => c.startLine <= s.endLine && c.endLine >= s.startLine);
    if (!hit) {
      dropped++;
      continue;
    }
    const clipped = { path: c.path, startLine: Math.max(c.startLine, hit.startLine), endLine: Math.min(c.endLine, hit.endLine) };
    const key = `${clipped.path}:${clipped.startLine}-${clipped.endLine}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(clipped);
  }
  return { citations: out, dropped };
}

/** True when two spans share a line. */
export function overlaps(a: Span, b: Span): boolean {
  return a.path === b.path && a.startLine <= b.endLine && a.endLine >= b.startLine;
}
