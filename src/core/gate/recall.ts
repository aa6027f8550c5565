// Candidate recall: vector and lexical search together, fused by reciprocal rank.
// Rank fusion needs no score calibration between the two, which differ in scale.
import type { Compressor } from '../compress/index.js';
import type { MemoryStore } from '../store/index.js';
import type { SearchHit } from '../types.js';

/** The usual RRF constant: damps the head so one list cannot dominate. */
const RRF_K = 60;

export async function recall(store: MemoryStore, compressor: Compressor, query: string, k: number): Promise<SearchHit[]> {
  const depth = Math.max(k * 3, 30);
  const [vector, lexical] = await Promise.all([
    compressor.embedQuery(query).then((v) => store.searchVector(v, depth)),
    store.searchLexical(query, depth),
  ]);
  const fused = new Map<string, SearchHit>();
  for (const list of [vector, lexical]) {
    list.forEach((hit, rank) => {
      const add = 1 / (RRF_K + rank + 1);
      const seen = fused.get(hit.blockId);
      fused.set(hit.blockId, seen ? { ...seen, score: seen.score + add } : { ...hit, score: add });
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score || a.blockId.localeCompare(b.blockId)).slice(0, k);
}
