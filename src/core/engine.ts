// The engine facade: everything the CLI, the JSON-RPC server and the extension
// can do goes through here, so they all run exactly the same engine.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { Chunker } from './chunk/index.js';
import { anchoredLines, isStructural, keptWords, ModelCompressor, openCompressor, type Compressor } from './compress/index.js';
import { recall } from './gate/recall.js';
import { Gate } from './gate/gate.js';
import { ask, checkQuestion, evaluate, interpretQuestion, SourceLines, type AskOptions, type EvalReport, type QaItem, type QuestionReport, type WordsKept } from './ask/index.js';
import { Scanner } from './scan/index.js';
import { defaultStoreDir, MemoryStore, META_COMPRESSOR, META_RECALL_VECTORS, type StoreStats } from './store/index.js';
import { Indexer, type IndexReport, type IndexRunOptions } from './sync/indexer.js';
import { WorkspaceWatcher, type WatchOptions } from './sync/watcher.js';
import { UserError, type AskResult, type Citation, type MemoryBlock, type SearchHit } from './types.js';

export interface EngineOptions {
  repo: string;
  /** Store folder; default from ENGRAM_STORE_DIR or the cache folder (see defaultStoreDir). */
  store?: string;
  env?: NodeJS.ProcessEnv;
  maxFileBytes?: number;
  excludes?: string[];
  /** Chunk budget in tokens (default 512). */
  maxTokens?: number;
  allowSymlinksOutside?: boolean;
  includeSecrets?: boolean;
  /**
   * An installed compressor model's name, a model folder, or `structural` (the rules); default:
   * the installed compressor model (the shipped engram-compressor). A model that is missing or
   * fails to load falls back to structural with a warning. Another compressor than the store's
   * recompresses its blocks on the next index run.
   */
  compressor?: string;
  onWarning?: (message: string) => void;
}

/** DESIGN.md's status object, plus the bytes of the files that became blocks. */
export type StatusReport = StoreStats;

/** A block as `inspect` shows it: stored fields, the vector's size, and the raw lines from disk. */
export interface InspectedBlock extends Omit<MemoryBlock, 'vector'> {
  vectorDim: number;
  /** The source lines as they are on disk now; null when the file is gone. */
  raw: string | null;
  /** True when the file changed since the block was made (raw and compressed may disagree). */
  stale: boolean;
}

export class Engine {
  private constructor(
    readonly repo: string,
    readonly storeDir: string,
    private readonly scanner: Scanner,
    private readonly compressor: Compressor,
    private readonly store: MemoryStore,
    private readonly indexer: Indexer,
  ) {}

  static async open(options: EngineOptions): Promise<Engine> {
    const repo = resolve(options.repo);
    const info = await stat(repo).catch(() => null);
    if (!info?.isDirectory()) throw new UserError(`not a folder: ${repo}`);
    const storeDir = options.store ? resolve(options.store) : defaultStoreDir(repo, options.env ?? process.env);
    const scanner = new Scanner(repo, {
      maxFileBytes: options.maxFileBytes,
      excludes: [...(options.excludes ?? []), ...storeExcludes(repo, storeDir)],
      allowSymlinksOutside: options.allowSymlinksOutside,
      includeSecrets: options.includeSecrets,
    });
    const compressor = await openCompressor(options.compressor, { env: options.env, onWarning: options.onWarning });
    let chunker: Chunker;
    let store: MemoryStore;
    try {
      [chunker, store] = await Promise.all([
        Chunker.create(),
        MemoryStore.open(storeDir, { dim: compressor.dim, onWarning: options.onWarning }),
      ]);
    } catch (err) {
      if (compressor instanceof ModelCompressor) await compressor.release();
      throw err;
    }
    // Queries are embedded by this engine's compressor: say so when the blocks were made by another.
    const made = await store.getMeta(META_COMPRESSOR);
    if (made !== null && made !== compressor.id) {
      // Stores from before the recallVectors meta: only the rules' vectors are known by the maker's id.
      const vectors = (await store.getMeta(META_RECALL_VECTORS)) ?? (isStructural(made) ? 'hashing' : made);
      const sameVectors = vectors === compressor.recallVectors;
      const until = sameVectors ? 'recall is the same meanwhile (the same recall vectors)' : 'until then recall is weaker';
      options.onWarning?.(`the blocks in ${storeDir} were made by ${made}; this engine runs ${compressor.id} (--compressor): the next index run recompresses them, and ${until}`);
    }
    const indexer = new Indexer({ scanner, chunker, compressor, store, maxTokens: options.maxTokens ?? 512 });
    return new Engine(repo, storeDir, scanner, compressor, store, indexer);
  }

  index(options: IndexRunOptions = {}): Promise<IndexReport> {
    return this.indexer.indexAll(options);
  }

  /** Starts watching the workspace; the caller closes the watcher. */
  async watch(options: WatchOptions = {}): Promise<WorkspaceWatcher> {
    const watcher = new WorkspaceWatcher(this.scanner, this.indexer, options);
    await watcher.start();
    return watcher;
  }

  status(): Promise<StatusReport> {
    return this.store.stats();
  }

  async search(query: string, k = 10): Promise<SearchHit[]> {
    const text = query.trim();
    if (text === '') throw new UserError('empty search query');
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw new UserError(`k must be an integer from 1 to 1000, got ${k}`);
    return recall(this.store, this.compressor, text, k);
  }

  /** Answers a question with the given reasoner (modes, gate, budgets, trace: see AskOptions). */
  ask(question: string, options: AskOptions): Promise<AskResult> {
    return ask({ repo: this.repo, store: this.store, compressor: this.compressor }, question, options);
  }

  /** The gate's first round for a question (empty memory), best first. */
  async gateRank(question: string, k: number, options: Pick<AskOptions, 'gate' | 'gateOptions' | 'signal'> = {}): Promise<Citation[]> {
    const source = new SourceLines(this.repo);
    const gate = new Gate(this.store, this.compressor, options.gate ?? null, async (b) => (await source.lines(b.path, b.startLine, b.endLine))?.join('\n') ?? b.compressed, options.gateOptions);
    const ranked = await gate.rank(interpretQuestion(checkQuestion(question)).question, '', { read: new Set(), excluded: new Set() }, options.signal);
    return ranked.slice(0, k).map(({ block: b }) => ({ path: b.path, startLine: b.startLine, endLine: b.endLine }));
  }

  /** Answers every QA item and scores answers, citations and the gate (`engram eval`). */
  eval(items: readonly QaItem[], options: AskOptions & { k?: number; onQuestion?: (q: QuestionReport, done: number, total: number) => void }): Promise<EvalReport> {
    const source = new SourceLines(this.repo);
    return evaluate(items, {
      ask: (q) => this.ask(q, options),
      rank: (q, k) => this.gateRank(q, k, options),
      kept: (e) => this.evidenceKept(e, source),
      ...(options.k ? { k: options.k } : {}),
      ...(options.onQuestion ? { onQuestion: options.onQuestion } : {}),
    });
  }

  /** Words of a span's source lines and of its blocks, and how many of each the blocks' compressed text keeps. */
  private async evidenceKept(span: Citation, source: SourceLines): Promise<WordsKept> {
    const out: WordsKept = { kept: 0, total: 0, blockKept: 0, blockTotal: 0 };
    for (const b of await this.store.blocksForPath(span.path)) {
      if (b.endLine < span.startLine || b.startLine > span.endLine) continue;
      const kept = anchoredLines(b.compressed);
      const lines = (await source.lines(b.path, b.startLine, b.endLine)) ?? [];
      lines.forEach((line, i) => {
        const n = b.startLine + i;
        const w = keptWords(line, kept.get(n));
        out.blockKept += w.kept;
        out.blockTotal += w.total;
        if (n >= span.startLine && n <= span.endLine) {
          out.kept += w.kept;
          out.total += w.total;
        }
      });
    }
    return out;
  }

  /** A block by id, or the block covering `path:line`. */
  async inspect(target: string): Promise<InspectedBlock> {
    const block = await this.findBlock(target);
    const { vector, ...rest } = block;
    const raw = await this.readLines(block.path, block.startLine, block.endLine);
    const record = (await this.store.files([block.path])).get(block.path);
    return { ...rest, vectorDim: vector.length, raw, stale: record?.hash !== block.fileHash || raw === null };
  }

  /** The compressor's id (name@version) that index runs write blocks with. */
  get compressorId(): string {
    return this.compressor.id;
  }

  async close(): Promise<void> {
    await this.store.close();
    if (this.compressor instanceof ModelCompressor) await this.compressor.release();
  }

  private async findBlock(target: string): Promise<MemoryBlock> {
    const at = /^(.*):(\d+)$/.exec(target);
    if (at) {
      const [, path = '', line = '0'] = at;
      const n = Number(line);
      const block = (await this.store.blocksForPath(path)).find((b) => b.startLine <= n && n <= b.endLine);
      if (!block) throw new UserError(`no block covers ${path}:${n}`);
      return block;
    }
    const block = await this.store.getBlock(target);
    if (!block) throw new UserError(`no block with id ${target} (use an id from search, or PATH:LINE)`);
    return block;
  }

  private async readLines(path: string, start: number, end: number): Promise<string | null> {
    const text = await readFile(resolve(this.repo, path), 'utf8').catch(() => null);
    if (text === null) return null;
    return text.split(/\r?\n/).slice(start - 1, end).join('\n');
  }
}

/** A store kept inside the workspace (with its lock and set-aside copies) must never index itself. */
function storeExcludes(repo: string, storeDir: string): string[] {
  const rel = relative(repo, storeDir);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return [];
  const posix = rel.split(sep).join('/');
  return [`/${posix}`, `/${posix}.*`];
}
