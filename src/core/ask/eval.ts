// `engram eval`: answers a QA file and scores the answers, the citations and the gate.
import { readFile } from 'node:fs/promises';
import { UserError, type AnswerConfidence, type AskResult, type Citation } from '../types.js';
import { overlaps } from './citations.js';

export interface QaItem {
  id?: string;
  question: string;
  answer: string;
  evidence?: Citation[];
}

export interface QuestionReport {
  id: string;
  question: string;
  expected: string;
  answer: string;
  /** AskResult.confidence ('none' when the question failed). */
  confidence: AnswerConfidence;
  /**
   * Only a confident answer can be correct: a low-confidence one never counts. For an expected
   * "not found", exact is a "not found" reply and contains any reply that states no answer.
   */
  exact: boolean;
  contains: boolean;
  citations: Citation[];
  /** A citation (confident or evidence) overlaps an expected evidence span; absent without evidence. */
  evidenceHit?: boolean;
  /** Share of the evidence lines' words the blocks' compressed text still holds; absent without evidence. */
  evidenceKept?: number;
  ms: number;
  blocksRead: number;
  tokensRead: number;
  error?: string;
}

export interface EvalReport {
  questions: number;
  /** Normalized exact match (confident answers only). */
  accuracy: number;
  /** The expected answer appears in the answer (names and paths; confident answers only). */
  containment: number;
  /** Share of the questions with evidence whose citations, confident or low-confidence, overlap it. */
  evidenceHitRate: number;
  /** Share of the questions answered confidently. */
  confidentRate: number;
  citationPrecision: number;
  citationRecall: number;
  /** Evidence spans among the gate's first-round top k (questions with evidence). */
  gateRecallAtK: number;
  /**
   * Share of the evidence lines' words (names, numbers; not punctuation) that the compressed text
   * form of the blocks holding them keeps: what a reasoner reading that form can still see.
   */
  evidenceKept: number;
  /** The same share over every line of those blocks: how much the text form keeps at all. */
  blockWordsKept: number;
  k: number;
  msPerQuestion: number;
  peakRssMb: number;
  /** RSS with the engine open and its models loaded, before the first question: what every mode holds at rest. */
  readyRssMb: number;
  blocksReadPerQuestion: number;
  tokensReadPerQuestion: number;
  perQuestion: QuestionReport[];
}

export async function readQaFile(file: string): Promise<QaItem[]> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read QA file ${file}: ${e.code ?? e.message}`);
  });
  const items: QaItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new UserError(`${file}:${i + 1}: not JSON`);
    }
    const o = v as Partial<QaItem>;
    if (typeof o.question !== 'string' || typeof o.answer !== 'string') throw new UserError(`${file}:${i + 1}: needs string fields question and answer`);
    const evidence = Array.isArray(o.evidence)
      ? o.evidence.filter((e): e is Citation => typeof e?.path === 'string' && Number.isInteger(e.startLine) && Number.isInteger(e.endLine))
      : undefined;
    items.push({ id: typeof o.id === 'string' ? o.id : String(i + 1), question: o.question, answer: o.answer, ...(evidence ? { evidence } : {}) });
  });
  if (!items.length) throw new UserError(`${file} has no questions`);
  return items;
}

/** Lowercase, no quotes/backticks/punctuation at the ends, single spaces. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/[`"'“”‘’]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[\s.,;:!?()[\]{}]+|[\s.,;:!?()[\]{}]+$/g, '');
}

/** The expected answer of an unanswerable question (the QA generator's and the reasoners' words). */
export function isNotFound(expected: string): boolean {
  return normalizeAnswer(expected) === 'not found';
}

export function scoreAnswer(predicted: string, expected: string): { exact: boolean; contains: boolean } {
  const p = normalizeAnswer(predicted);
  const e = normalizeAnswer(expected);
  const exact = p === e;
  return { exact, contains: exact || (e.length > 0 && p.includes(e)) };
}

/** How a reply (null: the question failed) scores against the expected answer. */
function scoreReply(result: AskResult | null, expected: string): { exact: boolean; contains: boolean } {
  if (!result) return { exact: false, contains: false };
  // A question without an answer is answered right by a reply that states none: "not found",
  // or low-confidence evidence, which says it is no answer.
  if (isNotFound(expected)) return { exact: result.confidence === 'none', contains: result.confidence !== 'answer' };
  // "Not sure ..., the closest evidence is <the expected line>" contains the answer but does not give it.
  return result.confidence === 'answer' ? scoreAnswer(result.answer, expected) : { exact: false, contains: false };
}

export interface WordsKept {
  kept: number;
  total: number;
  blockKept: number;
  blockTotal: number;
}

export interface EvalHooks {
  ask: (question: string) => Promise<AskResult>;
  /** The gate's first round for a question, best first. */
  rank: (question: string, k: number) => Promise<Citation[]>;
  /** Words of an evidence span and of its blocks, and how many of each their compressed text keeps. */
  kept: (evidence: Citation) => Promise<WordsKept>;
  k?: number;
  onQuestion?: (report: QuestionReport, done: number, total: number) => void;
}

export async function evaluate(items: readonly QaItem[], hooks: EvalHooks): Promise<EvalReport> {
  const k = hooks.k ?? 8;
  const readyRss = process.memoryUsage().rss;
  const per: QuestionReport[] = [];
  let citedOk = 0;
  let cited = 0;
  let evidenceHit = 0;
  let evidenceTotal = 0;
  let gateHit = 0;
  let gateTotal = 0;
  let withEvidence = 0;
  let wordsKept = 0;
  let words = 0;
  let blockKept = 0;
  let blockWords = 0;
  for (const [i, item] of items.entries()) {
    let result: AskResult | null = null;
    let error: string | undefined;
    const started = performance.now();
    try {
      result = await hooks.ask(item.question);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      error = e.message;
    }
    const ms = result?.stats.ms ?? Math.round(performance.now() - started);
    const answer = result?.answer ?? '';
    const citations = result?.citations ?? [];
    const confidence = result?.confidence ?? 'none';
    const s = scoreReply(result, item.answer);
    const evidence = item.evidence ?? [];
    let hit: boolean | undefined;
    let kept: number | undefined;
    if (evidence.length) {
      withEvidence++;
      hit = citations.some((c) => evidence.some((e) => overlaps(c, e)));
      cited += citations.length;
      citedOk += citations.filter((c) => evidence.some((e) => overlaps(c, e))).length;
      evidenceTotal += evidence.length;
      evidenceHit += evidence.filter((e) => citations.some((c) => overlaps(c, e))).length;
      const top = await hooks.rank(item.question, k);
      gateTotal += evidence.length;
      gateHit += evidence.filter((e) => top.some((c) => overlaps(c, e))).length;
      let keptHere = 0;
      let wordsHere = 0;
      for (const e of evidence) {
        const w = await hooks.kept(e);
        keptHere += w.kept;
        wordsHere += w.total;
        blockKept += w.blockKept;
        blockWords += w.blockTotal;
      }
      wordsKept += keptHere;
      words += wordsHere;
      if (wordsHere) kept = round(keptHere / wordsHere);
    }
    const report: QuestionReport = {
      id: item.id ?? String(i + 1),
      question: item.question,
      expected: item.answer,
      answer,
      confidence,
      exact: s.exact,
      contains: s.contains,
      citations,
      ...(hit === undefined ? {} : { evidenceHit: hit }),
      ...(kept === undefined ? {} : { evidenceKept: kept }),
      ms,
      blocksRead: result?.stats.blocksRead ?? 0,
      tokensRead: result?.stats.tokensRead ?? 0,
      ...(error ? { error } : {}),
    };
    per.push(report);
    hooks.onQuestion?.(report, i + 1, items.length);
  }
  const n = per.length;
  const mean = (f: (q: QuestionReport) => number): number => (n ? per.reduce((a, q) => a + f(q), 0) / n : 0);
  return {
    questions: n,
    accuracy: round(mean((q) => Number(q.exact))),
    containment: round(mean((q) => Number(q.contains))),
    evidenceHitRate: round(withEvidence ? per.filter((q) => q.evidenceHit).length / withEvidence : 0),
    confidentRate: round(mean((q) => Number(q.confidence === 'answer'))),
    citationPrecision: round(cited ? citedOk / cited : 0),
    citationRecall: round(evidenceTotal ? evidenceHit / evidenceTotal : 0),
    gateRecallAtK: round(gateTotal ? gateHit / gateTotal : 0),
    evidenceKept: round(words ? wordsKept / words : 0),
    blockWordsKept: round(blockWords ? blockKept / blockWords : 0),
    k,
    msPerQuestion: Math.round(mean((q) => q.ms)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    readyRssMb: Math.round(readyRss / 1048576),
    blocksReadPerQuestion: round(mean((q) => q.blocksRead)),
    tokensReadPerQuestion: Math.round(mean((q) => q.tokensRead)),
    perQuestion: per,
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
