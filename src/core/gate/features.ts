// What the feature gate reads about one candidate block: its recall rank, whether it
// says or defines the code names the question (and the working memory) asks about,
// whether its path names them, how many of the question's words it holds, and whether
// it is documentation. Mirrors `features` in training/engram_training/feature_gate.py
// word for word; test/fixtures/gate-features.json holds the cases both must agree on.
import { definer, isDefaultExport, mentionsAny, namesIn, namesModule, STOP_WORDS, subWords, WORD, type LineDefiner } from '../compress/identifiers.js';
import { isProse } from '../chunk/index.js';

/** The features in the order the model reads them (its config.json lists the same). */
export const GATE_FEATURES = [
  'recall_rank',
  'has_names',
  'names_mentioned',
  'defines_name',
  'name_in_path',
  'has_memory_names',
  'memory_names_mentioned',
  'memory_defines',
  'term_coverage',
  'prose',
  'block_size',
] as const;

/** Names taken from the working memory, at most (its first ones: the memory grows at the end). */
const MEMORY_NAMES = 32;

/** What the features need of a question; computed once per gate round, not per block. */
export interface GateQuery {
  names: readonly string[];
  memoryNames: readonly string[];
  words: ReadonlySet<string>;
  definesName: LineDefiner;
  definesMemoryName: LineDefiner;
}

export function gateQuery(question: string, memory: string): GateQuery {
  const names = namesIn(question);
  const memoryNames = memory ? namesIn(memory).filter((n) => !names.includes(n)).slice(0, MEMORY_NAMES) : [];
  const words = new Set<string>();
  for (const w of question.match(WORD) ?? []) if (w.length >= 2 && !STOP_WORDS.has(w.toLowerCase())) words.add(w.toLowerCase());
  return { names, memoryNames, words, definesName: definer(names), definesMemoryName: definer(memoryNames) };
}


/** The gate's inputs for one candidate (`rank`: 0-based place in recall's order). */
export function gateFeatures(q: GateQuery, path: string, text: string, rank: number): number[] {
  const lines = text.split('\n');
  // A default export in a file named after a name (`module.exports = function` in debounce.js)
  // says and defines that name, though no line spells it.
  const hasDefaultExport = lines.some(isDefaultExport);
  const exported = (n: string): boolean => hasDefaultExport && namesModule([n], path);
  const mentioned = (names: readonly string[]): number =>
    names.length ? names.filter((n) => mentionsAny(text, [n]) || exported(n)).length / names.length : 0;
  // `some` passes each line's index and the lines: heads spread over lines count.
  const defined = (names: readonly string[], defines: LineDefiner): number =>
    names.length && (lines.some(defines) || names.some(exported)) ? 1 : 0;
  return [
    1 / (1 + rank),
    q.names.length ? 1 : 0,
    mentioned(q.names),
    defined(q.names, q.definesName),
    q.names.length && mentionsAny(path, q.names) ? 1 : 0,
    q.memoryNames.length ? 1 : 0,
    mentioned(q.memoryNames),
    defined(q.memoryNames, q.definesMemoryName),
    q.words.size ? coverage(q.words, text) : 0,
    isProse(path) ? 1 : 0,
    Math.log1p(text.length) / 8,
  ];
}

/** Share of the question's words among the block's words and identifier sub-words. */
function coverage(words: ReadonlySet<string>, text: string): number {
  const found = new Set<string>();
  for (const w of text.match(WORD) ?? []) {
    const low = w.toLowerCase();
    if (words.has(low)) found.add(low);
    for (const p of subWords(w)) if (words.has(p)) found.add(p);
  }
  return found.size / words.size;
}
