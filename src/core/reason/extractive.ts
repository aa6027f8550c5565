// The extractive reader as a reasoner (the built-in default): it points at exact source
// spans instead of writing text, so its memory is a list of cited lines and its answer
// is source text on known lines. It reads raw lines (it was trained on them).
import { isProse } from '../chunk/index.js';
import { definer, definesAny, escapeRegExp, isImportLine, mentionsAny, namesIn, STOP_WORDS, WORD } from '../compress/identifiers.js';
import { answerFit, ExtractiveReader, ModelTokenizer, NAME_PENALTY, questionForm, type ReaderLoadOptions, type ReaderOutput } from '../models/index.js';
import type { Citation } from '../types.js';
import { callsOf, callsList, chainQuestion, chainSoFar, hopOf, isChainLine, stepChain, type ChainQuestion, type ChainStep, type Hop } from './chain.js';
import { DESCRIBED_ANSWER, describedDefinition, describedWords } from './describe.js';
import { explainedIn, explainQuestion, overviewQuestion, TYPE_HEAD, type Explained, type ExplainQuestion } from './explain.js';
import { asksForWords, WORDS_NOTE } from './prose.js';
import { returnsIn, returnsQuestion, signaturesIn, signatureQuestion, type ReturnsQuestion, type SignatureQuestion } from './signature.js';
import { usesAsAsked, usesIn, usesQuestion, type UsesQuestion } from './uses.js';
import { valueIn, valueQuestion, type ValueQuestion } from './value.js';
import { betterLead, type AnswerInput, type AnswerOutput, type BlockView, type Lead, type ReadInput, type ReadOutput, type Reasoner } from './reasoner.js';

const ANSWER = 'answer ';
/** How a low-confidence answer starts: it says so before quoting the evidence. */
export const LOW_CONFIDENCE = 'Not sure (low confidence): the closest evidence is ';
const EVIDENCE_CHARS = 240;
/** Words of a place question that ask for the place, not name what is placed. */
const PLACE_WORDS = /^(?:defined|declared|located|implemented|written|created|found|find|live|lives|kept|stored|code|file|files|source)$/i;
/** A definition saying this much of a description ends the reading; one saying less lets it go on. */
const DESCRIBED_SURE = 0.8;
// answer path:3-4: text   |   path:12: text
const FACT = /^(answer )?(.+?):(\d+)(?:-(\d+))?: (.*)$/;

export class ExtractiveReasoner implements Reasoner {
  readonly reads = 'raw' as const;
  readonly memoryTokens: number;

  private constructor(
    private readonly reader: ExtractiveReader,
    private readonly tok: ModelTokenizer,
    readonly id: string,
    memoryTokens: number,
  ) {
    this.memoryTokens = memoryTokens;
  }

  static async load(dir: string, opts: ReaderLoadOptions & { memoryTokens?: number } = {}): Promise<ExtractiveReasoner> {
    const reader = await ExtractiveReader.load(dir, opts);
    return new ExtractiveReasoner(reader, ModelTokenizer.load(dir), `reader:${reader.info.name}`, opts.memoryTokens ?? 1024);
  }

  /** Blocks are read in windows of whole lines, so any block fits; this is one window. */
  get contextTokens(): number {
    return this.reader.info.maxLen;
  }

  count(text: string): number {
    return text ? this.tok.count(text) : 0;
  }

  async read(input: ReadInput): Promise<ReadOutput> {
    const block = plain(input.block);
    const forms = formsOf(input.question);
    // Uses and signatures are found by the code's shape alone: the reader is not asked.
    const [out] = forms.uses || forms.signature || forms.returns ? [undefined] : await this.reader.read([{ question: input.question, memory: input.memory, block }], input.signal);
    const facts = input.memory ? input.memory.split('\n') : [];
    const add = (line: string): void => {
      if (!facts.includes(line)) facts.push(line);
    };
    // A uses question's memory is the uses found, each a fact: with its line while an answer would
    // show it (the first PLACES_CITED, and as many of the kind asked for), then its place alone,
    // while the memory budget holds them; past that, its last line counts the uses not kept.
    const uses = forms.uses;
    // A mention in prose (a changelog's, a README's) is no use.
    if (uses && !isProse(block.path)) {
      let unkept = usesNotKept(facts);
      if (unkept > 0) facts.pop();
      // Once the memory is full, uses are only counted: nothing needs its tokens counted.
      let tokens = unkept > 0 ? 0 : this.count(facts.join('\n'));
      let quoted = facts.filter((f) => usesAsAsked(uses, f) && !f.endsWith(': …')).length;
      for (const u of usesIn(uses, block)) {
        if (unkept > 0) {
          unkept++;
          continue;
        }
        const asked = usesAsAsked(uses, u.text);
        const shown = facts.length < PLACES_CITED || (asked && quoted < PLACES_CITED);
        const fact = `${block.path}:${u.line}: ${shown ? u.text : '…'}`;
        const cost = this.count(fact) + 1;
        if (tokens + cost + USES_FULL_TOKENS > this.memoryTokens) {
          unkept++;
          continue;
        }
        if (shown && asked) quoted++;
        tokens += cost;
        add(fact);
      }
      if (unkept > 0) facts.push(usesFullLine(unkept));
    }
    // A chain's memory is its hops and their calls: the reader's kept lines (every line of an
    // operator that calls the same helpers) would steer the gate off the next definition.
    if (!forms.chain && !forms.uses) for (const k of out?.keepLines ?? []) add(`${input.block.path}:${k.line}: ${k.text.trim()}`);
    const { lead, source, step, explained } = blockLead(input.question, forms, input.memory, block, out);
    // For an explanation the evidence is the blocks themselves, in the gate's order (not those of
    // the definition's body: the memory's lines there are its calls).
    if (forms.words || (forms.explain && !forms.overview && !step)) add(blockFact(block));
    // A class asked about: its members, for an answer that has no documentation (or an overview) to give.
    if (explained?.members.length) add(`${block.path}:${explained.line}: ${membersSaid(explained.name, explained.members)}`);
    for (const f of step?.facts ?? []) {
      // A hop read on past its block is written again with all its calls: the new line replaces the old.
      const hop = hopOf(f);
      if (hop) facts.splice(0, facts.length, ...facts.filter((l) => hopOf(l) !== hop));
      add(f);
    }
    // The memory's answer line is what the lead states: a rule's, or the reader's answer span.
    const found = source !== 'reader' ? (lead?.confident ? { ...lead.citation, text: lead.text } : null) : (out?.answer ?? null);
    if (found) add(`${ANSWER}${input.block.path}:${found.startLine}-${found.endLine}: ${found.text}`);
    const blockTokens = this.count(block.text);
    const { text: memory, tokens: memoryTokens } = this.bound(facts);
    return {
      memory,
      // The gate reads its surest block first, so the first confident answer ends the loop: on
      // bench:ask (16 questions a size, 8K-512K) that was as accurate as reading all 8 picks and
      // keeping the surest, and 2-4x faster. A place or value answer on a line that only uses
      // the name reads on: the definition may be in a later block; so does a definition that
      // says only part of a description.
      // A value question reads on until a block assigns the value (the reader's span may sit on
      // an overload signature that names the function).
      hasAnswer:
        (lead?.confident === true && (lead.fit ?? 0) === 0 && (!forms.described || lead.score >= DESCRIBED_SURE) && (!forms.value || source === 'value') && !forms.overview) ||
        // An overview of a definition with no body of calls (a constant): its documentation is all.
        (forms.overview && lead?.confident === true && !chainSoFar(memory).some((h) => h.name === forms.chain?.start)) ||
        // A function's own calls: once a block after its head does not continue its body, the body has ended.
        (forms.chain?.hops === 0 && !step && chainSoFar(input.memory).some((h) => h.name === forms.chain?.start && h.calls.length > 0)),
      blockTokens,
      // What the reader was given; a form found by the code's shape runs no model.
      promptTokens: out ? blockTokens + this.count(input.question) + this.count(input.memory) : 0,
      outputTokens: 0,
      lead,
      memoryTokens,
    };
  }

  async answer(input: AnswerInput): Promise<AnswerOutput> {
    // The surest answer seen (in the loop or here) wins; under the thresholds it is shown as evidence.
    let lead: Lead | null = input.lead ?? null;
    let used = 0;
    let blockTokens = 0;
    const forms = formsOf(input.question);
    // The memory with what the blocks given here add (a chain's hops).
    let memory = input.memory;
    if (input.blocks.length) {
      const views = input.blocks.map(plain);
      const outs: ReaderOutput[] = await this.reader.read(
        views.map((block) => ({ question: input.question, memory: input.memory, block })),
        input.signal,
      );
      used = input.blocks.length;
      // Blocks read at once may hold the chain in any order: two passes follow it.
      for (const pass of forms.chain ? [0, 1] : [0]) {
        outs.forEach((o, i) => {
          const b = views[i]!;
          if (pass === 0) blockTokens += this.count(b.text);
          const { lead: l, step } = blockLead(input.question, forms, memory, b, o);
          lead = betterLead(lead, l);
          if (step?.facts.length) memory = `${memory}\n${step.facts.join('\n')}`;
        });
      }
    }
    const tokens = { blocksUsed: used, blockTokens, promptTokens: blockTokens, outputTokens: 0 };
    const overview = forms.overview && forms.chain ? overviewAnswer(forms.chain.start, lead, memory, tokens) : null;
    if (overview) return overview;
    const own = forms.chain?.hops === 0 && !forms.explain ? ownCallsAnswer(forms.chain.start, memory, tokens) : null;
    if (own) return own;
    if (forms.uses) return usesAnswer(forms.uses, input.memory, input.blocks.map(plain), tokens);
    // An explanation from the documentation is an answer; without one, its calls or what was found are evidence.
    const undocumented = forms.explain && !lead?.confident && forms.chain ? (undocumentedAnswer(forms.chain.start, memory, tokens) ?? membersAnswer(forms.chain.start, memory, tokens)) : null;
    if (undocumented) return undocumented;
    if (forms.words || (forms.explain && !lead?.confident)) return wordsAnswer(lead, input.memory, tokens, Boolean(forms.explain));
    // A memory written elsewhere (no leads came with it): its latest answer line.
    const found = lead?.confident ? lead : lead ? null : memoryAnswer(input.memory);
    const answer = found as { text: string; citation: Citation } | null;
    if (answer) {
      // The reader points at the definition; a "where" question is answered with that place.
      const where = questionForm(input.question) === 'place' ? `${answer.citation.path}:${answer.citation.startLine}` : null;
      return { answer: where ?? answer.text, citations: [answer.citation], confidence: 'answer', ...tokens };
    }
    const evidence = lead as Lead | null;
    if (evidence) return { answer: `${LOW_CONFIDENCE}${spanLabel(evidence.citation)}: ${oneLine(evidence.text)}`, citations: [evidence.citation], confidence: 'evidence', ...tokens };
    return { answer: 'not found', citations: [], confidence: 'none', ...tokens };
  }

  close(): Promise<void> {
    return this.reader.release();
  }

  /** Oldest facts go first; answers are kept as long as anything is. The text, and its tokens. */
  private bound(facts: string[]): { text: string; tokens: number } {
    const out = [...facts];
    let text = out.join('\n');
    let tokens = this.count(text);
    while (out.length > 1 && tokens > this.memoryTokens) {
      // Answers and the chain's hops stay; plain facts go first, oldest first.
      const drop = out.findIndex((l) => !l.startsWith(ANSWER) && !isChainLine(l));
      out.splice(drop >= 0 ? drop : 0, 1);
      text = out.join('\n');
      tokens = this.count(text);
    }
    if (tokens <= this.memoryTokens) return { text, tokens };
    const cut = this.tok.truncate(text, this.memoryTokens);
    return { text: cut, tokens: this.count(cut) };
  }
}

/** What an answer reports of the tokens it took. */
type AnswerTokens = Omit<AnswerOutput, 'answer' | 'citations' | 'confidence'>;

/** Places the built-in reasoner cites for a question that wants words. */
const WORDS_CITATIONS = 4;

/**
 * The answer to a question that asks for an explanation: never the reader's span as if it were
 * one, but the evidence it found (the blocks read and the lines kept, in reading order, then its
 * best span), said to be evidence.
 */
function wordsAnswer(lead: Lead | null, memory: string, tokens: AnswerTokens, leadFirst = false): AnswerOutput {
  const cited: Array<{ citation: Citation; text: string }> = [];
  const cite = (citation: Citation, text: string): void => {
    const inside = cited.some((c) => c.citation.path === citation.path && c.citation.startLine <= citation.startLine && citation.endLine <= c.citation.endLine);
    if (!inside && cited.length < WORDS_CITATIONS) cited.push({ citation, text });
  };
  // The definition asked about, found without documentation, comes before the blocks read.
  if (lead && leadFirst) cite(lead.citation, lead.text);
  for (const line of memory.split('\n')) {
    const f = factOf(line);
    if (f && !f.answer) cite(f.citation, f.text);
  }
  if (lead) cite(lead.citation, lead.text);
  if (!cited.length) return { answer: 'not found', citations: [], confidence: 'none', ...tokens };
  const evidence = cited.map((c) => `${spanLabel(c.citation)}: ${oneLine(c.text)}`).join('; ');
  return { answer: `${WORDS_NOTE}${evidence}`, citations: cited.map((c) => c.citation), confidence: 'evidence', ...tokens };
}

/**
 * The answer to "which functions does `f` call": its body's calls, from the memory's hop for it
 * (the blocks that continue a long body add theirs), cited at its head and the lines that call.
 * The gate brings a continuing block first, so a body still open when reading ended has no more.
 */
function ownCallsAnswer(start: string, memory: string, tokens: AnswerTokens): AnswerOutput | null {
  const own = ownCalls(start, memory);
  if (!own) return null;
  // No call found may be a signature whose body was not read: that is evidence, not an answer.
  return { answer: callsOf(own.hop), citations: own.citations, confidence: own.hop.calls.length ? 'answer' : 'evidence', ...tokens };
}

/** The memory's hop for `name` (its body's calls) and its citations: its head, then the lines that call. */
function ownCalls(name: string, memory: string): { hop: Hop; citations: Citation[] } | null {
  const hop = chainSoFar(memory).find((h) => h.name === name);
  if (!hop) return null;
  const head = { path: hop.path, startLine: hop.startLine, endLine: hop.startLine };
  const lines = memory
    .split('\n')
    .map(factOf)
    .flatMap((f) => (f && !f.answer && f.citation.path === hop.path && f.citation.startLine > hop.startLine && f.citation.startLine <= hop.endLine ? [f.citation] : []));
  return { hop, citations: [head, ...lines].slice(0, PLACES_CITED) };
}

/**
 * "How does `X` work?" as far as the code says without prose: X's documentation (its lead) and
 * the functions its body calls, cited at both. Null when neither was found (the evidence is then
 * the answer, as for any question that wants words).
 */
function overviewAnswer(name: string, lead: Lead | null, memory: string, tokens: AnswerTokens): AnswerOutput | null {
  const doc = lead?.confident ? lead : null;
  const own = ownCalls(name, memory);
  const calls = own?.hop.calls.length ? own : null;
  if (!doc && !calls) return null;
  const said = doc ? doc.text.replace(/[.\s]*$/, '.') : '';
  const callSentence = calls ? (doc ? `Its body calls ${callsList(calls.hop)}.` : callsOf(calls.hop)) : '';
  // A class: what it defines, where a function would have its calls.
  const members = !calls && doc ? membersFact(name, memory) : null;
  const memberSentence = members ? `It defines ${members.said} (in the lines read).` : '';
  const citations = [...(doc ? [doc.citation] : []), ...(calls?.citations ?? [])];
  return { answer: [said, callSentence, memberSentence].filter(Boolean).join(' '), citations, confidence: 'answer', ...tokens };
}

/**
 * "What does `X` do?" for an X with no documentation: the functions its body calls, as evidence
 * (what it does is for a reader of prose to say). Null when no body with calls was read.
 */
function undocumentedAnswer(name: string, memory: string, tokens: AnswerTokens): AnswerOutput | null {
  const own = ownCalls(name, memory);
  if (!own?.hop.calls.length) return null;
  const { hop, citations } = own;
  const answer = `\`${name}\` (${hop.path}:${hop.startLine}) has no documentation; its body calls ${callsList(hop)}.`;
  return { answer, citations, confidence: 'evidence', ...tokens };
}

/** "`X` defines `a`, `b`": the memory's fact of a class's members. */
function membersSaid(name: string, members: readonly string[]): string {
  return `\`${name}\` defines ${members.map((m) => `\`${m}\``).join(', ')}`;
}

/** A class's members from the memory's fact of them: its line and the list as said; null without one. */
function membersFact(name: string, memory: string): { citation: Citation; said: string } | null {
  const said = `\`${name}\` defines `;
  for (const line of memory.split('\n')) {
    const f = factOf(line);
    if (f && !f.answer && f.text.startsWith(said)) return { citation: f.citation, said: f.text.slice(said.length) };
  }
  return null;
}

/**
 * "What does `X` do?" for an undocumented class: the members it defines in the lines read, as
 * evidence. Null when no class of that name was read.
 */
function membersAnswer(name: string, memory: string, tokens: AnswerTokens): AnswerOutput | null {
  const m = membersFact(name, memory);
  if (!m) return null;
  const answer = `\`${name}\` (${m.citation.path}:${m.citation.startLine}) has no documentation; it defines ${m.said} (in the lines read).`;
  return { answer, citations: [m.citation], confidence: 'evidence', ...tokens };
}

/** Places cited for a uses or calls answer, at most. */
const PLACES_CITED = 8;
/** The memory's last line once it holds no more uses: the answer's count is then a floor. */
const USES_FULL = /^\((\d+) more uses were found than the memory holds\)$/;
const USES_FULL_TOKENS = 16;

function usesFullLine(unkept: number): string {
  return `(${unkept} more uses were found than the memory holds)`;
}

/** The uses a memory counted without keeping them (its last line), 0 when it kept all. */
function usesNotKept(facts: readonly string[]): number {
  return Number(USES_FULL.exec(facts[facts.length - 1] ?? '')?.[1] ?? 0);
}

/**
 * The answer to a uses question: the lines that use the name in the blocks read (the memory's
 * facts, and blocks given at once), as many as fit, with how many were found. Only the blocks
 * read are searched, and the answer says so.
 */
function usesAnswer(asked: UsesQuestion, memory: string, blocks: ReadonlyArray<{ path: string; startLine: number; text: string }>, tokens: AnswerTokens): AnswerOutput {
  const found: Array<{ citation: Citation; text: string }> = [];
  const seen = new Set<string>();
  const note = (citation: Citation, text: string): void => {
    const key = `${citation.path}:${citation.startLine}`;
    if (!seen.has(key)) found.push({ citation, text });
    seen.add(key);
  };
  for (const line of memory.split('\n')) {
    const f = factOf(line);
    if (f && !f.answer) note(f.citation, f.text);
  }
  for (const b of blocks) for (const u of isProse(b.path) ? [] : usesIn(asked, b)) note({ path: b.path, startLine: u.line, endLine: u.line }, u.text);
  if (!found.length) {
    const none = asked.kind === 'import' ? 'imports' : asked.kind === 'extend' ? 'extends' : 'uses';
    return { answer: `not found: no line of the code read ${none} \`${asked.name}\``, citations: [], confidence: 'none', ...tokens };
  }
  // Uses of the kind asked for (raises for "where is it raised") first, in reading order.
  found.sort((a, b) => Number(usesAsAsked(asked, b.text)) - Number(usesAsAsked(asked, a.text)));
  const shown = found.slice(0, PLACES_CITED);
  const places = shown.map((f) => `${spanLabel(f.citation)}: ${oneLine(f.text)}`).join('; ');
  const what = asked.kind === 'import' ? 'Imports of' : asked.kind === 'extend' ? 'Classes extending' : 'Uses of';
  // Every place found is cited (a list to click through); the text quotes the first few.
  const unkept = usesNotKept(memory.split('\n'));
  return { answer: `${what} \`${asked.name}\` in the code read: ${places}${usesCount(found, unkept)}`, citations: found.map((f) => f.citation), confidence: 'answer', ...tokens };
}

/** " (N more cited; M lines in F files)" past the places quoted, and the uses counted but not kept. */
function usesCount(found: ReadonlyArray<{ citation: Citation }>, unkept: number): string {
  if (found.length <= PLACES_CITED && unkept === 0) return '';
  const more = found.length > PLACES_CITED ? `${found.length - PLACES_CITED} more cited; ` : '';
  if (unkept > 0) return ` (${more}${found.length + unkept} lines in all, the ${unkept} past what the working memory holds not cited)`;
  const files = new Set(found.map((f) => f.citation.path)).size;
  return ` (${more}${found.length} lines in ${files} file${files === 1 ? '' : 's'})`;
}

/** A block as one memory fact: its range and its first line that says something (a file's overview, a definition's head). */
function blockFact(block: { path: string; startLine: number; text: string }): string {
  const lines = block.text.split('\n');
  const first = lines.map((l) => l.replace(COMMENT_MARK, '').trim()).find((l) => /\p{L}/u.test(l)) ?? '';
  return `${block.path}:${block.startLine}-${block.startLine + lines.length - 1}: ${oneLine(first)}`;
}
const COMMENT_MARK = /^\s*(?:\/\*+|\*+\/?|\/\/+|#+|[rRuUbB]?(?:"""|'''))/;

/** An answer line of the working memory, the latest first. */
function memoryAnswer(memory: string): { text: string; citation: Citation; score: number } | null {
  for (const line of memory.split('\n').reverse()) {
    const f = factOf(line);
    if (f?.answer) return { text: f.text, citation: f.citation, score: 1 };
  }
  return null;
}

/** A memory line as a fact: an answer line or not, the lines it cites, what it says. */
function factOf(line: string): { answer: boolean; citation: Citation; text: string } | null {
  const m = FACT.exec(line);
  if (!m) return null;
  const start = Number(m[3]);
  return { answer: Boolean(m[1]), citation: { path: m[2] ?? '', startLine: start, endLine: m[4] ? Number(m[4]) : start }, text: m[5] ?? '' };
}

/**
 * A chain question's lead: the chain's answer (confident), else the hop this block reached
 * (evidence), else the reader's span as evidence only: it may not end the reading.
 */
function chainLead(chain: ChainQuestion, memory: string, step: ChainStep | null, block: { path: string; startLine: number; text: string }, out: ReaderOutput | undefined): Lead | null {
  // The start's own calls: answered once its whole body is read (a body open past its block reads on).
  // A head that calls nothing (an overload signature) is evidence until a later one is read.
  const start = chain.hops === 0 ? step?.hop : undefined;
  if (start) {
    const citation = { path: start.path, startLine: start.startLine, endLine: start.endLine };
    return { text: callsOf(start), citation, score: start.calls.length ? 1 : 0.5, confident: !start.open && start.calls.length > 0, fit: 0 };
  }
  if (step?.answer) {
    const { name, path, line } = step.answer;
    return { text: name, citation: { path, startLine: line, endLine: line }, score: 1, confident: true, fit: 0 };
  }
  const via = step?.hop;
  // Evidence: the farthest hop reached scores highest.
  const hop = chainSoFar(memory).length + 1;
  if (via) return { text: via.name, citation: { path: via.path, startLine: via.startLine, endLine: via.startLine }, score: hop / (chain.hops + 2), confident: false, fit: 0 };
  const read = out ? leadOf('', block, out, true) : null;
  return read ? { ...read, score: read.score * 0.1, confident: false } : null;
}

/** A value question's lead when the block assigns the value (read from the definition), else null. */
function valueLead(asked: ValueQuestion, block: { path: string; startLine: number; text: string }): Lead | null {
  const v = valueIn(asked, block);
  if (!v) return null;
  const text = v.required ? `\`${asked.name}\` has no default value: \`${asked.fn}\` declares it without one` : v.text;
  return { text, citation: { path: block.path, startLine: v.line, endLine: v.line }, score: 1, confident: true, fit: 0 };
}

/** A described question's lead: the block's definition that says most of the description, else null. */
function describedLead(described: ReadonlySet<string>, block: { path: string; startLine: number; text: string }): Lead | null {
  const d = describedDefinition(described, block);
  if (!d || d.score === 0) return null;
  const citation = { path: block.path, startLine: d.line, endLine: d.line };
  return { text: d.name, citation, score: d.score, confident: d.score >= DESCRIBED_ANSWER, fit: 0 };
}

const FUNCTION_VALUE = /^(?:async\s+)?(?:function\b|\(|[\p{L}_$][\p{L}\p{N}_$]*\s*=>)/u;

/** A signature question's lead: the name's heads in the block, on one line each, cited; null when it has none. */
function signatureLead(asked: SignatureQuestion, block: PlainBlock): Lead | null {
  const heads = signaturesIn(asked, block);
  if (!heads.length) return null;
  const citation = { path: block.path, startLine: heads[0]!.startLine, endLine: heads[heads.length - 1]!.endLine };
  const text = `\`${asked.name}\` (${block.path}:${heads[0]!.startLine}): ${heads.map((h) => h.text).join('; ')}`;
  const sure = heads.some((h) => !h.classOnly);
  return { text, citation, score: sure ? 1 : 0.5, confident: sure, fit: 0 };
}

/**
 * A returns question's lead: the declared return type, an arrow's expression, and the function's
 * own return statements (or that it has none), cited from its head to its last return; evidence
 * only when its body goes on past the block and nothing was found.
 */
function returnsLead(asked: ReturnsQuestion, block: { path: string; startLine: number; text: string }): Lead | null {
  const r = returnsIn(asked, block);
  if (!r) return null;
  const said: string[] = [];
  if (r.annotation) said.push(`is declared to return \`${r.annotation}\``);
  if (r.expression) said.push(`returns \`${r.expression}\``);
  if (r.returns.length) {
    const list = r.returns.map((x) => `\`${x.text || 'return'}\` (${block.path}:${x.line})`).join(', ');
    said.push(`${r.open ? 'returns, in the lines read' : 'returns'}: ${list}`);
  } else if (!r.bodiless && !r.open) said.push('has no return statement');
  const last = r.returns[r.returns.length - 1]?.line ?? r.line;
  const citation = { path: block.path, startLine: r.line, endLine: last };
  const text = `\`${asked.name}\` (${block.path}:${r.line}) ${said.join('; ') || 'has no return statement in the lines read (its body may go on past them)'}`;
  return { text, citation, score: said.length ? 1 : 0.5, confident: said.length > 0, fit: 0 };
}

/** An explained name's lead: its documentation's summary (an answer), or its bare definition (evidence); null when the block does not define it. */
function explainedLead(e: Explained | null, block: { path: string; startLine: number; text: string }): Lead | null {
  if (!e) return null;
  const citation = { path: block.path, startLine: e.startLine, endLine: e.endLine };
  // A constant or variable is also what it is assigned; a function expression's head says nothing more.
  const value = valueIn({ name: e.name }, block);
  const assigned = value?.line === e.line && !FUNCTION_VALUE.test(value.text) ? ` = ${value.text}` : '';
  if (!e.summary && !assigned) return { text: e.head, citation, score: 0.5, confident: false, fit: 0 };
  return { text: `\`${e.name}\` (${block.path}:${e.line})${assigned}${e.summary ? `: ${e.summary}` : ''}`, citation, score: 1, confident: true, fit: 0 };
}

/** A place question's lead: the block's line that defines a name the question asks about, else null. */
function placeLead(names: readonly string[], block: { path: string; startLine: number; text: string }): Lead | null {
  const lines = block.text.split('\n');
  const defines = definer(names, block.path);
  const at = lines.findIndex(defines);
  if (at < 0) return null;
  const name = names.find((n) => mentionsAny(lines[at]!, [n])) ?? names[0]!;
  const line = block.startLine + at;
  return { text: name, citation: { path: block.path, startLine: line, endLine: line }, score: 1, confident: true, fit: 0 };
}

/** The forms of a question the engine answers from the code's structure (null: not that form). */
interface Forms {
  described: ReadonlySet<string> | null;
  chain: ChainQuestion | null;
  value: ValueQuestion | null;
  /** The names a "where is X defined" question asks about. */
  place: readonly string[] | null;
  /** The name a "where is X used" question asks about. */
  uses: UsesQuestion | null;
  /** The name a "what are the parameters of X" question asks about: its heads answer. */
  signature: SignatureQuestion | null;
  /** The name a "what does X return" question asks about: its annotation and return statements answer. */
  returns: ReturnsQuestion | null;
  /** The name a "what does X do" question asks about: its documentation answers. */
  explain: ExplainQuestion | null;
  /**
   * "How does X work?": X's documentation (explain) and its own calls (chain, hops 0), read
   * together; the reading ends with its body, not with its documentation.
   */
  overview: boolean;
  /** It asks for an explanation, in none of the forms above: the built-in reader gives evidence only. */
  words: boolean;
  /** It is in one of the forms above (the reader was trained on those questions). */
  structured: boolean;
}

function formsOf(question: string): Forms {
  const uses = usesQuestion(question);
  const names = !uses && questionForm(question) === 'place' ? namesIn(question) : [];
  const overview = overviewQuestion(question);
  const explain = explainQuestion(question) ?? overview;
  // An explanation reads the body too: without documentation, its calls are what it shows.
  const chain = chainQuestion(question) ?? (explain ? { start: explain.name, hops: 0 } : null);
  const signature = signatureQuestion(question);
  const returns = returnsQuestion(question);
  const forms = { described: describedWords(question), chain, value: valueQuestion(question), place: names.length ? names : null, uses, signature, returns, explain, overview: overview !== null };
  const structured = Boolean(forms.described ?? forms.chain ?? forms.value ?? forms.place ?? forms.uses ?? forms.signature ?? forms.returns ?? forms.explain);
  return { ...forms, structured, words: !structured && asksForWords(question) };
}

/**
 * One block's lead by the question's form: a chain follows its calls (the step's facts are for
 * the memory), a value is read from its definition, a description is matched against the
 * documentation (the reader's span head points at any name: held-out 0.11), a place is the
 * line defining the name (the reader's span took `options._diff` for `diff`); otherwise, and
 * where the block assigns no value or defines no name, the reader's span.
 */
function blockLead(
  question: string,
  forms: Forms,
  memory: string,
  block: PlainBlock,
  out: ReaderOutput | undefined,
): { lead: Lead | null; source: 'chain' | 'value' | 'described' | 'place' | 'uses' | 'signature' | 'explain' | 'reader'; step: ChainStep | null; explained?: Explained | null } {
  // Uses are facts of the memory, read to the end of the gate's picks: no block's lead ends it.
  if (forms.uses) return { lead: null, source: 'uses', step: null };
  if (forms.signature) return { lead: signatureLead(forms.signature, block), source: 'signature', step: null };
  if (forms.returns) return { lead: returnsLead(forms.returns, block), source: 'signature', step: null };
  if (forms.explain) {
    const step = forms.chain ? stepChain(forms.chain, memory, block) : null;
    // A class's body is its members, not calls: its overview is its documentation.
    const typeHead = step?.hop !== undefined && TYPE_HEAD.test(block.text.split('\n')[step.hop.startLine - block.startLine] ?? '');
    const explained = explainedIn(forms.explain, block);
    return { lead: explainedLead(explained, block), source: 'explain', step: typeHead ? null : step, explained };
  }
  if (forms.chain) {
    const step = stepChain(forms.chain, memory, block);
    return { lead: chainLead(forms.chain, memory, step, block, out), source: 'chain', step };
  }
  const valued = forms.value ? valueLead(forms.value, block) : null;
  if (valued) return { lead: valued, source: 'value', step: null };
  if (forms.described) return { lead: describedLead(forms.described, block), source: 'described', step: null };
  // A definition's place is read from its shape (spread heads included); the reader's span is the fallback.
  const placed = forms.place ? placeLead(forms.place, block) : null;
  if (placed) return { lead: placed, source: 'place', step: null };
  return { lead: out ? leadOf(question, block, out, forms.structured) : null, source: 'reader', step: null };
}

/**
 * The reader's top span, weighed by how sure it is that the block answers at all: the span
 * itself when it cleared the answer thresholds, else its whole lines (evidence). Its fit
 * (answerFit) ranks a definition of what a place or value question names above a use of it
 * in another block. A place question's span on a line that defines the name is confident
 * whatever the thresholds: the definition is checked by its shape, not guessed (held-out
 * test definitions 0.75 -> 0.81, see the reader's card). Mirrors `stated` in reader.py.
 */
function leadOf(question: string, block: { path: string; startLine: number; text: string }, out: ReaderOutput, inForm: boolean): Lead | null {
  const s = out.answer ?? out.best;
  if (!s) return null;
  const lines = block.text.split('\n').slice(s.startLine - block.startLine, s.endLine - block.startLine + 1);
  const first = lines[0] ?? '';
  const fit = answerFit(question, first);
  const place = questionForm(question) === 'place';
  const names = namesIn(question);
  // "where does debounce get defined?" names no code-shaped word: its plain words are what it places.
  const located = place && definesAny(first, names.length ? names : placedWords(question), block.path);
  // A place or value answer on a line that does not even say the name is evidence at most; so is
  // one on a line importing it (the definition is elsewhere: maybe outside the workspace), and a
  // place on a line that only uses it (a call), unless the line binds it in a shape the
  // definition patterns do not know (`exports.X =`, `X: function`).
  const mentionOnly = fit < 0 && (isImportLine(first) || (place && !bindsName(first, names)));
  // Its confidence means something only for the forms it was trained on: on the held-out questions
  // in other words ("numlines = ?", "look up X for me"), 58 of its 59 confident spans were wrong.
  const confident = (out.answer !== null && fit > -NAME_PENALTY && !mentionOnly && inForm) || located;
  return {
    // Evidence is shown as its whole lines: a span alone (`c` of `toUnits(c)`) says nothing.
    text: out.answer && confident ? out.answer.text : lines.map((l) => l.trim()).join('\n'),
    citation: { path: block.path, startLine: s.startLine, endLine: s.endLine },
    score: (1 - out.noAnswer) * s.score,
    confident,
    fit,
  };
}

/** The words of a place question that may be a name: not function words, nor its verbs of place. */
function placedWords(question: string): string[] {
  return (question.match(WORD) ?? []).filter((w) => !STOP_WORDS.has(w.toLowerCase()) && !PLACE_WORDS.test(w));
}

/** `a.X =`, `X: ...`, `'X': ...`, `[X]: ...`: a line binding one of the names as a member or a property. */
function bindsName(line: string, names: readonly string[]): boolean {
  return names.some((n) => {
    const e = escapeRegExp(n);
    return new RegExp(String.raw`\.${e}\s*=(?!=)|^\s*(?:\[\s*)?["']?${e}["']?(?:\s*\])?\s*:(?!:)`, 'u').test(line);
  });
}

function spanLabel(c: Citation): string {
  return c.endLine > c.startLine ? `${c.path}:${c.startLine}-${c.endLine}` : `${c.path}:${c.startLine}`;
}

/** Evidence lines on one line of the answer, cut to a readable length. */
function oneLine(text: string): string {
  const t = text.split('\n').filter(Boolean).join(' ⏎ ');
  return t.length > EVIDENCE_CHARS ? `${t.slice(0, EVIDENCE_CHARS - 1)}…` : t;
}

/** The reader's input form: plain source lines from the block's first line. */
function plain(b: BlockView): PlainBlock {
  return { path: b.path, startLine: b.startLine, text: b.raw ?? b.text.replace(/^\d+\| ?/gm, ''), ...(b.symbols ? { symbols: b.symbols } : {}) };
}

/** A block as its plain source lines, and the names the chunker says it defines. */
interface PlainBlock {
  path: string;
  startLine: number;
  text: string;
  symbols?: readonly string[];
}
