// Candidate recall: vector and lexical search together, fused by weighted
// reciprocal rank. Rank fusion needs no score calibration between the two, which
// differ in scale. Lexical ranks weigh more: BM25 returns only blocks that share a
// term with the query, while vector search always fills its list, so a unique
// identifier found by BM25 must not tie with the nearest unrelated vector.
// A prior then favours code over prose: questions here are about code, and
// changelogs mention every name the code has without defining any.
import { languageOf } from '../chunk/index.js';
import type { Compressor } from '../compress/index.js';
import type { MemoryStore } from '../store/index.js';
import type { SearchHit } from '../types.js';

/**
 * RRF's constant. The usual 60 flattens ranks so much that, with the deep lists the gate
 * asks for (about 200 per list), blocks anywhere in both lists outrank the one block that
 * holds the exact name a question asks about: on bench:ask's 1.75M-token context (40
 * tuning questions, not the benchmark's), recall@8 was 0.82 with 60 and 0.95 with 10.
 */
export const RRF_K = 10;
/** The best fused score: first in both lists. */
export const RRF_MAX = 2 / (RRF_K + 1);
const WEIGHT = { vector: 0.5, lexical: 1, name: 0.5 } as const;
/** Hits per memory name: the block defining it, if any, is among the first. */
const NAME_DEPTH = 16;
const PROSE = new Set(['markdown', 'restructuredtext', 'asciidoc', 'text']);
const CHANGELOG = /^(changelog|changes|history|news|releases?)([._-]|$)/i;

/** How much a block from this file counts for a question about code (1 for code). */
export function sourcePrior(path: string): number {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (CHANGELOG.test(name)) return 0.35;
  return PROSE.has(languageOf(path)) ? 0.75 : 1;
}

/**
 * The k blocks most like `query`. Each of `names` (code names the working memory holds, e.g. the
 * functions a hop calls) also gets a short lexical list of its own: in one query with the whole
 * memory, the block defining a name that many blocks call ranked past 64 (`innerFrom` in rxjs,
 * 128K tokens: 42nd for the names alone, 12th for its own name).
 */
export async function recall(store: MemoryStore, compressor: Compressor, query: string, k: number, names: readonly string[] = []): Promise<SearchHit[]> {
  const depth = Math.max(k * 3, 30);
  const [vector, lexical, ...named] = await Promise.all([
    compressor.embedQuery(query).then((v) => store.searchVector(v, depth)),
    store.searchLexical(query, depth),
    ...names.map((n) => store.searchName(n, NAME_DEPTH)),
  ]);
  const fused = new Map<string, SearchHit>();
  for (const [list, weight] of [
    [vector, WEIGHT.vector],
    [lexical, WEIGHT.lexical],
    ...named.map((list) => [list, WEIGHT.name] as const),
  ] as const) {
    list.forEach((hit, rank) => {
      const add = weight / (RRF_K + rank + 1);
      const seen = fused.get(hit.blockId);
      fused.set(hit.blockId, seen ? { ...seen, score: seen.score + add } : { ...hit, score: add });
    });
  }
  return [...fused.values()]
    .map((hit) => ({ ...hit, score: hit.score * sourcePrior(hit.path) }))
    .sort((a, b) => b.score - a.score || a.blockId.localeCompare(b.blockId))
    .slice(0, k);
}
