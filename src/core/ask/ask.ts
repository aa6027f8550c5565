// Answering one question (DESIGN.md steps 2 and 3) in one of four modes that share the
// reasoner and the blocks:
//   gated    recall + gate, one block at a time into the working memory, re-gated after each update
//   memagent every block in path/line order through the same memory loop (the MemAgent baseline)
//   full     as much raw source as fits the reasoner's window, answered at once
//   rag      recall's top k once, answered at once
import { isProse } from '../chunk/index.js';
import { mentionsAny } from '../compress/identifiers.js';
import type { Compressor } from '../compress/index.js';
import { Gate, recall, type GateDecision, type GateOptions, type GateScorer } from '../gate/index.js';
import { betterLead, documentationOf, usesIn, usesQuestion, type BlockView, type Lead, type Reasoner, type UsesQuestion } from '../reason/index.js';
import type { MemoryStore } from '../store/index.js';
import { CancelledError, UserError, type AnswerConfidence, type AskMode, type AskResult, type MemoryBlock, type Reference, type SearchHit, type TraceEvent } from '../types.js';
import { verifyCitations, type Span } from './citations.js';
import { interpretQuestion, type Interpreted } from './interpret.js';
import { SourceLines } from './source.js';

export interface AskOptions {
  mode?: AskMode;
  reasoner: Reasoner;
  /** The gate model (null or absent: recall ranking stands in). */
  gate?: GateScorer | null;
  gateOptions?: GateOptions;
  /** Blocks `rag` answers from (default 8). */
  ragK?: number;
  /** Stop reading once the reasoner has read and written this many tokens; the answer comes from the memory so far. */
  maxTokens?: number;
  /**
   * The same for wall time, in ms: a step still running when it runs out is stopped (its
   * reasoner or gate call is aborted) and the answer comes from the memory so far, with
   * `stats.stopped` saying so. The final answer call itself is not cut short.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
  onTrace?: (event: TraceEvent) => void;
  onWarning?: (message: string) => void;
  /** Block ids read first whatever the gate says, and block ids never read. */
  pinned?: string[];
  excluded?: string[];
}

export interface AskContext {
  repo: string;
  store: MemoryStore;
  compressor: Compressor;
}

/** Longest question accepted: questions name code, they do not paste it. */
export const MAX_QUESTION_BYTES = 16 * 1024;

export function checkQuestion(question: string): string {
  const q = question.trim();
  if (q === '') throw new UserError('empty question: ask something about the code, e.g. engram ask "where is the retry delay set?"');
  const bytes = Buffer.byteLength(q, 'utf8');
  if (bytes > MAX_QUESTION_BYTES) {
    throw new UserError(
      `the question is ${Math.round(bytes / 1024)} KB; the limit is ${MAX_QUESTION_BYTES / 1024} KB (name the code you mean; Engram finds it in the workspace)`,
    );
  }
  return q;
}

/** Fails with a clear message when there is nothing to read; returns the block count. */
export async function checkWorkspace(store: MemoryStore): Promise<number> {
  const files = await store.files();
  let blocks = 0;
  const skipped: Record<string, number> = {};
  for (const r of files.values()) {
    blocks += r.blocks;
    if (r.skip) skipped[r.skip] = (skipped[r.skip] ?? 0) + 1;
  }
  if (blocks > 0) return blocks;
  const reasons = Object.entries(skipped).map(([k, v]) => `${k}: ${v}`);
  if (reasons.length) throw new UserError(`every file in the workspace was skipped (${reasons.join(', ')}); there is nothing to read`);
  if (files.size) throw new UserError('the indexed files hold no code blocks (they are all empty); there is nothing to read');
  throw new UserError('the workspace has no indexed files: run engram index first (or point --repo at a folder with code)');
}

/** Recall's candidates a uses question reads first (the most likely to use the name). */
export const USES_RECALLED = 32;
/** Blocks a uses question reads, at most, unless told otherwise. */
export const USES_MAX_BLOCKS = 512;
/** Blocks that mention a name looked up for its uses, at most; and fetched at a time. */
const USES_MENTIONS = 4096;
const USES_PAGE = 64;
/** Lines a uses question's result lists, at most (AskResult.references). */
export const REFERENCES_MAX = 2000;
/** Lines above a block searched for the documentation of its first line, at most. */
const DOC_LOOKBACK = 120;

/** Forms answered from one name's definition, which the gate then reads first (see GateOptions.definitionOf). */
const FROM_DEFINITION: ReadonlySet<Interpreted['form']> = new Set(['signature', 'returns', 'explain', 'overview', 'calls']);

/** What the chunker names a class's constructor (`Pool.__init__`). */
const CONSTRUCTORS = ['constructor', '__init__'];

/** Forms of question about one name, answered without following anything the memory learns. */
const ONE_NAME_FORMS: ReadonlySet<Interpreted['form']> = new Set(['place', 'value', 'default', 'uses', 'signature', 'returns', 'explain']);

export async function ask(ctx: AskContext, question: string, opts: AskOptions): Promise<AskResult> {
  const asked = interpretQuestion(checkQuestion(question));
  const result = await new AskRun(ctx, asked.question, opts, asked.form, asked.scope).run();
  const read = asked.scope ? `${asked.question} (within ${asked.scope})` : asked.question;
  return (asked.form || asked.scope) && read !== question.trim() ? { ...result, interpreted: read } : result;
}

/** The indexed files a question's scope names: a file (`core.py`, `pyparsing/core.py`) or a folder (`src/core/`). */
async function scopeFiles(store: MemoryStore, scope: string): Promise<ReadonlySet<string>> {
  const folder = scope.endsWith('/') || !/\.[^/]+$/.test(scope) ? scope.replace(/\/+$/, '') : null;
  const matches = (path: string): boolean =>
    folder !== null ? path.startsWith(`${folder}/`) || path.includes(`/${folder}/`) : path === scope || path.endsWith(`/${scope}`);
  const files = [...(await store.files()).values()].filter((r) => r.blocks > 0 && matches(r.path)).map((r) => r.path);
  if (!files.length) throw new UserError(`the question asks about ${scope}, and no indexed file matches it: check the path (engram status lists what is indexed)`);
  return new Set(files);
}

class AskRun {
  private readonly t0 = performance.now();
  private readonly steps: TraceEvent[] = [];
  private readonly spans: Span[] = [];
  private readonly source: SourceLines;
  private readonly mode: AskMode;
  private step = 0;
  private memory = '';
  private blocksRead = 0;
  private tokensRead = 0;
  private modelTokens = 0;
  private peakRss = process.memoryUsage().rss;
  private stopReason: string | null = null;
  /** The best evidence the loop saw that was not a confident answer. */
  private lead: Lead | null = null;
  /** Fires when the time budget runs out. */
  private readonly budget: AbortSignal | undefined;
  /** The user's cancellation or the time budget, whichever comes first: given to the steps in flight. */
  private readonly stepSignal: AbortSignal | undefined;
  /** The files the scope matches, which alone may be read; null: all (resolved in run()). */
  private within: ReadonlySet<string> | null = null;
  /** What a uses question asks for, and the blocks that mention its name (see mentionsOf). */
  private readonly asked: UsesQuestion | null;
  private mentioned: SearchHit[] | null = null;
  private owned: ReadonlySet<string> | null = null;

  constructor(
    private readonly ctx: AskContext,
    private readonly question: string,
    private readonly opts: AskOptions,
    private readonly form: Interpreted['form'] = null,
    /** The file or folder the question asks about, if any. */
    private readonly scope?: string,
  ) {
    this.source = new SourceLines(ctx.repo);
    this.mode = opts.mode ?? 'gated';
    this.asked = form === 'uses' ? usesQuestion(question) : null;
    this.budget = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(Math.max(0, opts.timeoutMs));
    this.stepSignal = this.budget && opts.signal ? AbortSignal.any([opts.signal, this.budget]) : (this.budget ?? opts.signal);
  }

  async run(): Promise<AskResult> {
    const blocksTotal = await checkWorkspace(this.ctx.store);
    // After the workspace check: an empty workspace says so first.
    if (this.scope) this.within = await scopeFiles(this.ctx.store, this.scope);
    if ((await this.ctx.store.searchLexical(this.question, 1)).length === 0) {
      // Say why recall may be poor (a question in another language, no identifiers), but still answer.
      this.opts.onWarning?.('no block shares a word with the question (code search works best with the names used in the code); recall uses vectors alone');
    }
    this.cancelled();
    let answerBlocks: BlockView[] = [];
    if (this.mode === 'gated') await this.gated();
    else if (this.mode === 'memagent') await this.memagent();
    else if (this.mode === 'full') answerBlocks = await this.fullContext();
    else answerBlocks = await this.ragContext();

    const started = performance.now();
    // The answer is always made (only the user cancels it): a budget stop still ends in an answer.
    const out = await this.opts.reasoner.answer({ question: this.question, memory: this.memory, blocks: answerBlocks, lead: this.lead, signal: this.opts.signal });
    this.modelTokens += out.promptTokens + out.outputTokens;
    if (answerBlocks.length) {
      const used = answerBlocks.slice(0, out.blocksUsed);
      for (const b of used) this.spans.push(b);
      this.blocksRead += used.length;
      this.tokensRead += out.blockTokens;
    }
    const { citations, dropped } = verifyCitations(out.citations, this.spans);
    const references = this.asked ? await this.referencesOf(this.asked) : null;
    this.emit({ type: 'answer', step: ++this.step, text: out.answer, tokens: out.outputTokens, ms: performance.now() - started });
    this.sample();
    return {
      answer: out.answer,
      citations,
      confidence: out.confidence ?? inferConfidence(out.answer),
      ...(references ? { references } : {}),
      steps: this.steps,
      stats: {
        blocksTotal,
        blocksRead: this.blocksRead,
        tokensRead: this.tokensRead,
        ms: Math.round(performance.now() - this.t0),
        peakRssMb: Math.round(this.peakRss / 1048576),
        citationsDropped: dropped,
        modelTokens: this.modelTokens,
        ...(this.stopReason ? { stopped: this.stopReason } : {}),
      },
    };
  }

  private async gated(): Promise<void> {
    const gate = this.gate();
    const read = new Set<string>();
    const excluded = new Set(this.opts.excluded ?? []);
    for (const id of this.opts.pinned ?? []) {
      if (excluded.has(id) || read.has(id)) continue;
      const b = await gate.block(id);
      if (!b) throw new UserError(`pinned block ${id} is not in the store`);
      read.add(id);
      if (await this.readBlock(b, 1)) return;
    }
    if (this.form === 'uses') return this.uses(gate, read, excluded);
    while (this.blocksRead < gate.maxBlocks && !this.overBudget()) {
      const decisions = await this.gateRound(gate, read, excluded);
      if (!decisions) return;
      const next = decisions.find((d) => d.kept);
      if (!next) break;
      read.add(next.block.id);
      if (await this.readBlock(next.block, next.score)) return;
    }
  }

  /** One gate round, its decisions in the trace; null when the time budget stopped it. */
  private async gateRound(gate: Gate, read: ReadonlySet<string>, excluded: ReadonlySet<string>): Promise<GateDecision[] | null> {
    const started = performance.now();
    const decisions = await this.budgeted((signal) =>
      gate.select(this.question, this.gateMemory(), { read, excluded, blocksRead: this.blocksRead, tokensRead: this.tokensRead }, signal),
    );
    if (!decisions) return null;
    const ms = performance.now() - started;
    const step = this.step + 1;
    for (const d of decisions) this.emit({ type: 'gate', step, ...where(d.block), score: round(d.score), text: d.kept ? 'kept' : 'dropped', ms });
    return decisions;
  }

  /**
   * A uses question is after every line that uses one name, not the block most likely to answer.
   * Recall's candidates (the name's own search among them) are read first, then every other block
   * that mentions the name, in path/line order, up to the gate's block limit: a name called from a
   * hundred files is found in all of them. Nothing read changes what is looked for.
   */
  private async uses(gate: Gate, read: Set<string>, excluded: ReadonlySet<string>): Promise<void> {
    const decisions = await this.gateRound(gate, read, excluded);
    for (const d of decisions?.filter((x) => x.kept) ?? []) {
      if (this.overBudget()) return;
      read.add(d.block.id);
      if (await this.readBlock(d.block, d.score)) return;
    }
    const name = this.asked?.name;
    if (!name || this.overBudget()) return;
    const started = performance.now();
    // A method's uses are its name's: those in files that name its class are read first.
    const owned = await this.classFiles();
    const unread = (await this.mentionsOf(name)).filter((h) => !read.has(h.blockId));
    const rest = owned ? [...unread.filter((h) => owned.has(h.path)), ...unread.filter((h) => !owned.has(h.path))] : unread;
    const step = this.step + 1;
    const ms = performance.now() - started;
    for (let at = 0; at < rest.length; at += USES_PAGE) {
      const page = rest.slice(at, at + USES_PAGE);
      const blocks = await this.ctx.store.getBlocks(page.map((h) => h.blockId));
      for (const [i, h] of page.entries()) {
        const b = blocks.get(h.blockId);
        if (this.overBudget()) return;
        // The index's terms are stemmed, lowercased words (`operate` finds `operator`, `Subscriber`
        // finds `subscriber`): a block is read when its text names the name itself.
        if (!b || !mentionsAny(await this.rawText(b), [name])) continue;
        if (this.blocksRead >= gate.maxBlocks) {
          this.stop(`block limit (${gate.maxBlocks}) reached with ${rest.length - at - i} more blocks that may use \`${name}\` unread`);
          return;
        }
        // Not a gate decision: every block that mentions the name is read, in order.
        this.emit({ type: 'gate', step, ...where(b), score: 0, text: 'kept', ms });
        read.add(b.id);
        if (await this.readBlock(b, undefined)) return;
      }
    }
  }

  /**
   * The gate for this question. A uses question reads recall's first USES_RECALLED candidates
   * whatever their score, then the blocks that mention the name (see uses()), up to
   * USES_MAX_BLOCKS unless the user set the limits: its reasoner finds uses by the code's shape,
   * with no model run, so reading many blocks stays cheap.
   */
  private gate(): Gate {
    const { store, compressor } = this.ctx;
    const text = (b: MemoryBlock): Promise<string> => this.rawText(b);
    const set = { ...this.opts.gateOptions, ...(this.within ? { within: this.within } : {}) };
    const asked = this.form !== null && FROM_DEFINITION.has(this.form) ? /`([^`]+)`/.exec(this.question)?.[1]?.split('.').pop() : undefined;
    // A class's parameters are its constructor's, which may be a block of its own.
    if (asked) set.definitionOf = this.form === 'signature' ? [asked, ...CONSTRUCTORS.map((c) => `${asked}.${c}`)] : [asked];
    if (this.form !== 'uses') return new Gate(store, compressor, this.opts.gate ?? null, text, set);
    const maxBlocks = set.maxBlocks ?? USES_MAX_BLOCKS;
    const recalled = Math.min(USES_RECALLED, maxBlocks);
    return new Gate(store, compressor, null, text, { ...set, maxBlocks, minBlocks: recalled, candidates: recalled, tokenBudget: set.tokenBudget ?? Number.MAX_SAFE_INTEGER });
  }

  /**
   * The memory the gate reads with the question. Questions about one name (its definition, value,
   * default, uses or documentation) take no second hop: what a block that did not answer left in
   * the memory (its kept lines, a list of uses) holds other names, which led recall away from the
   * one asked about (`vertical` of pyparsing's `_to_diagram_element`: the definition ranked 4th in
   * the first round, out of the top 8 in the second).
   */
  private gateMemory(): string {
    return this.form !== null && ONE_NAME_FORMS.has(this.form) ? '' : this.memory;
  }

  private inScope(path: string): boolean {
    return this.within === null || this.within.has(path);
  }

  private async memagent(): Promise<void> {
    const excluded = new Set(this.opts.excluded ?? []);
    for await (const b of this.ctx.store.allBlocks()) {
      if (excluded.has(b.id) || !this.inScope(b.path)) continue;
      if (this.overBudget()) return;
      // MemAgent reads every chunk: its answer flag does not end the pass.
      await this.readBlock(b, undefined);
    }
  }

  /** Raw source in path/line order until the reasoner's window is full (the long-context baseline). */
  private async fullContext(): Promise<BlockView[]> {
    const excluded = new Set(this.opts.excluded ?? []);
    const r = this.opts.reasoner;
    let room = r.contextTokens;
    const views: BlockView[] = [];
    for await (const b of this.ctx.store.allBlocks()) {
      this.cancelled();
      if (excluded.has(b.id) || !this.inScope(b.path)) continue;
      const text = (await this.source.numbered(b.path, b.startLine, b.endLine)) ?? b.compressed;
      // The estimate is cheap; the reasoner cuts exactly with its own tokenizer (the block at the edge too).
      const raw = await this.source.lines(b.path, b.startLine, b.endLine);
      views.push({ ...where(b), text, ...(raw ? { raw: raw.join('\n') } : {}) });
      room -= b.tokens + 8;
      if (room < 0) break;
    }
    this.sample();
    return views;
  }

  private async ragContext(): Promise<BlockView[]> {
    const excluded = new Set(this.opts.excluded ?? []);
    const k = this.opts.ragK ?? 8;
    const started = performance.now();
    // A scope keeps only its files' blocks: recall deeper, so that k of them remain.
    const depth = (this.within ? 8 * k : k) + excluded.size;
    const hits = (await recall(this.ctx.store, this.ctx.compressor, this.question, depth)).filter((h) => !excluded.has(h.blockId) && this.inScope(h.path)).slice(0, k);
    const views: BlockView[] = [];
    const found = await this.ctx.store.getBlocks(hits.map((h) => h.blockId));
    for (const h of hits) {
      const b = found.get(h.blockId);
      if (!b) continue;
      this.emit({ type: 'gate', step: 1, ...where(b), score: round(h.score), text: 'kept', ms: performance.now() - started });
      const raw = this.opts.reasoner.reads === 'raw' ? await this.source.lines(b.path, b.startLine, b.endLine) : null;
      views.push({ ...where(b), text: b.compressed, ...(raw ? { raw: raw.join('\n') } : {}) });
    }
    return views;
  }

  /** One memory update; true when the reasoner has the answer or the time budget stopped it. */
  private async readBlock(b: MemoryBlock, score: number | undefined): Promise<boolean> {
    this.cancelled();
    const step = ++this.step;
    const view: BlockView = { ...where(b), text: b.compressed, symbols: b.symbols };
    if (this.opts.reasoner.reads === 'raw') {
      const raw = this.form === 'explain' || this.form === 'overview' ? await this.withDocAbove(b) : await this.source.lines(b.path, b.startLine, b.endLine);
      if (Array.isArray(raw)) view.raw = raw.join('\n');
      else if (raw) Object.assign(view, { raw: raw.lines.join('\n'), startLine: raw.startLine });
    }
    const started = performance.now();
    const out = await this.budgeted((signal) => this.opts.reasoner.read({ question: this.question, memory: this.memory, block: view, signal }));
    if (!out) return true;
    const ms = performance.now() - started;
    this.lead = betterLead(this.lead, out.lead);
    this.memory = out.memory;
    this.blocksRead++;
    this.tokensRead += out.blockTokens;
    this.modelTokens += out.promptTokens + out.outputTokens;
    this.spans.push(view);
    this.emit({ type: 'read', step, ...where(b), ...(score === undefined ? {} : { score: round(score) }), tokens: out.blockTokens, ms });
    this.emit({ type: 'memory', step, memory: out.memory, tokens: out.memoryTokens ?? this.opts.reasoner.count(out.memory), text: out.hasAnswer ? 'found' : 'continue', ms });
    this.sample();
    return out.hasAnswer;
  }

  /**
   * A block's lines with the documentation just above its first line: the chunker cuts a long doc
   * comment off the definition it documents when both do not fit one block (rxjs's `switchMap`:
   * 53 lines of JSDoc in one block, the head opening the next), and an explanation needs both.
   */
  private async withDocAbove(b: MemoryBlock): Promise<{ startLine: number; lines: string[] } | null> {
    const from = Math.max(1, b.startLine - DOC_LOOKBACK);
    const lines = await this.source.lines(b.path, from, b.endLine);
    if (!lines) return null;
    const first = b.startLine - from;
    const doc = lines[first] === undefined ? null : documentationOf(lines, first);
    const start = doc && doc.from < first ? doc.from : first;
    return { startLine: from + start, lines: lines.slice(start) };
  }

  /**
   * Every line that uses the asked name in the blocks that mention it and those read, found by the
   * code's shape with no reasoner: what a find-references list shows, also past what the working
   * memory holds or the reading reached (a reasoner may stop once it has an answer). The blocks
   * read count too: a name with no terms of its own (a stop word, `get`) is found by recall alone.
   */
  private async referencesOf(asked: UsesQuestion): Promise<Reference[]> {
    const blocks = [...(await this.mentionsOf(asked.name)), ...this.spans.filter((s) => !isProse(s.path))];
    const owned = await this.classFiles();
    const out: Reference[] = [];
    const seen = new Set<string>();
    for (const b of blocks) {
      this.cancelled();
      if (out.length >= REFERENCES_MAX) break;
      const lines = await this.source.lines(b.path, b.startLine, b.endLine);
      if (!lines) continue;
      for (const u of usesIn(asked, { path: b.path, startLine: b.startLine, text: lines.join('\n') }, REFERENCES_MAX - out.length)) {
        const key = `${b.path}:${u.line}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ path: b.path, startLine: u.line, endLine: u.line, text: u.text, ...(owned?.has(b.path) ? { namesClass: true } : {}) });
      }
    }
    const byPlace = (a: Reference, b: Reference): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.startLine - b.startLine);
    return out.sort((a, b) => Number(Boolean(b.namesClass)) - Number(Boolean(a.namesClass)) || byPlace(a, b));
  }

  /**
   * For a method asked with its class (`Pool.close`): the files whose index terms hold the class's
   * name (`Pool`, a `pool` variable), where its uses most likely are. Null for other questions.
   */
  private async classFiles(): Promise<ReadonlySet<string> | null> {
    const owner = this.asked?.owner;
    if (!owner) return null;
    this.owned ??= new Set(((await this.ctx.store.mentioning(owner, USES_MENTIONS)) ?? []).map((h) => h.path));
    return this.owned;
  }

  /** The blocks whose index terms hold `name`, in path order, in scope and not excluded; prose mentions a name without using it. Looked up once. */
  private async mentionsOf(name: string): Promise<SearchHit[]> {
    if (!this.mentioned) {
      const excluded = new Set(this.opts.excluded ?? []);
      const hits = (await this.ctx.store.mentioning(name, USES_MENTIONS)) ?? [];
      this.mentioned = hits.filter((h) => !excluded.has(h.blockId) && this.inScope(h.path) && !isProse(h.path));
    }
    return this.mentioned;
  }

  private async rawText(b: MemoryBlock): Promise<string> {
    return (await this.source.lines(b.path, b.startLine, b.endLine))?.join('\n') ?? b.compressed;
  }

  private overBudget(): boolean {
    this.cancelled();
    if (this.stopReason) return true;
    const { maxTokens, timeoutMs } = this.opts;
    if (maxTokens !== undefined && this.modelTokens >= maxTokens) this.stop(`token budget (${maxTokens}) reached`);
    else if (timeoutMs !== undefined && (this.budget?.aborted || performance.now() - this.t0 >= timeoutMs)) this.stop(`time budget (${timeoutMs} ms) reached`);
    return this.stopReason !== null;
  }

  private stop(reason: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.emit({ type: 'error', step: this.step, text: `${reason}; answering from the memory so far`, ms: 0 });
  }

  /**
   * Runs one step with the step signal: null when the time budget stopped it in flight (the
   * loop then answers from the memory so far); the user's cancellation still throws.
   */
  private async budgeted<T>(call: (signal: AbortSignal | undefined) => Promise<T>): Promise<T | null> {
    try {
      return await call(this.stepSignal);
    } catch (e) {
      if (this.opts.signal?.aborted) throw e instanceof CancelledError ? e : new CancelledError('question cancelled');
      if (!this.budget?.aborted) throw e;
      this.stop(`time budget (${this.opts.timeoutMs} ms) reached during step ${this.step}`);
      return null;
    }
  }

  private cancelled(): void {
    if (this.opts.signal?.aborted) throw new CancelledError('question cancelled');
  }

  private emit(event: TraceEvent): void {
    const e = { ...event, ms: Math.round(event.ms) };
    this.steps.push(e);
    this.opts.onTrace?.(e);
  }

  private sample(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
  }
}

function where(b: { id?: string; blockId?: string; path: string; startLine: number; endLine: number }) {
  return { blockId: b.blockId ?? b.id ?? '', path: b.path, startLine: b.startLine, endLine: b.endLine };
}

/** For reasoners that do not say: an answer unless it is empty or "not found". */
function inferConfidence(answer: string): AnswerConfidence {
  return /^\s*(not found\b.*)?$/i.test(answer) ? 'none' : 'answer';
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
