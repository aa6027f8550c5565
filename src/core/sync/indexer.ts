// Turns the workspace into memory blocks and keeps the store equal to the disk.
//
// Invariants that make indexing resumable and crash-safe:
// - a file record is written only after its blocks (MemoryStore.writeFiles), so a
//   record means "done"; a killed run redoes at most the batch it was writing;
// - a file whose size and mtime match its record is not read again;
// - compression is keyed by chunk content hash and compressor id, so content seen
//   before (another branch, a revert, a copy) is never compressed twice.
import type { Chunker } from '../chunk/index.js';
import type { Compressor } from '../compress/index.js';
import { META_COMPRESSOR, META_RECALL_VECTORS, termsOf, type BlockInput, type MemoryStore } from '../store/index.js';
import { isSkipped, type Scanner } from '../scan/index.js';
import {
  CancelledError,
  type Chunk,
  type Compressed,
  type FileRecord,
  type MemoryBlock,
  type Progress,
  type SkippedFile,
  type SourceText,
  type WalkedFile,
} from '../types.js';

export interface IndexerParts {
  scanner: Scanner;
  chunker: Chunker;
  compressor: Compressor;
  store: MemoryStore;
  /** Chunk budget in tokens. */
  maxTokens: number;
}

export interface IndexRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface IndexReport {
  filesSeen: number;
  filesIndexed: number;
  filesUnchanged: number;
  filesDeleted: number;
  filesSkipped: number;
  blocksWritten: number;
  /** Chunks whose compressed form came from the store instead of the compressor. */
  chunksReused: number;
  tokens: number;
  recoveredOrphans: number;
  ms: number;
}

/** Files are written in batches: one store commit per batch keeps commits few and crashes cheap. */
const BATCH_FILES = 256;
/** Files written since the last compaction that trigger the next one. */
const OPTIMIZE_EVERY_FILES = 200;
const BATCH_TOKENS = 400_000;

export class Indexer {
  private filesSinceOptimize = 0;

  constructor(private readonly parts: IndexerParts) {}

  /** Full reconcile of the store with the disk. Resumes where a killed run stopped. */
  async indexAll(options: IndexRunOptions = {}): Promise<IndexReport> {
    const { scanner, store, compressor } = this.parts;
    const started = Date.now();
    const report = emptyReport();
    report.recoveredOrphans = await store.recover();

    const walk = await scanner.walk(options.signal);
    const records = await store.files();
    report.filesSeen = walk.files.length + walk.skipped.length;

    // A new compressor recompresses in the background: old blocks keep serving
    // searches until each file's new blocks replace them.
    const stale = (await store.getMeta(META_COMPRESSOR)) === compressor.id ? new Set<string>() : await this.pathsWithOldModel();
    const phase: Progress['phase'] = stale.size > 0 ? 'recompress' : 'index';

    const present = new Set<string>();
    const changed: WalkedFile[] = [];
    for (const file of walk.files) {
      present.add(file.path);
      const rec = records.get(file.path);
      if (rec && rec.size === file.size && rec.mtimeMs === file.mtimeMs && !stale.has(file.path)) report.filesUnchanged++;
      else changed.push(file);
    }

    const skippedRecords: Array<{ record: FileRecord; blocks: MemoryBlock[] }> = [];
    for (const skip of walk.skipped) {
      present.add(skip.path);
      report.filesSkipped++;
      const rec = records.get(skip.path);
      if (rec?.skip !== skip.reason) skippedRecords.push({ record: skippedRecord(skip), blocks: [] });
    }
    if (skippedRecords.length > 0) await store.writeFiles(skippedRecords);

    const gone = [...records.keys()].filter((path) => !present.has(path));
    if (gone.length > 0) {
      await store.deleteFiles(gone);
      report.filesDeleted = gone.length;
    }

    await this.processFiles(changed, phase, report, options);
    await store.setMetas({ [META_COMPRESSOR]: compressor.id, [META_RECALL_VECTORS]: compressor.recallVectors });
    // A full run ends with the search indexes covering everything it wrote.
    await this.finish(report, started, report.filesIndexed + report.filesDeleted > 0);
    return report;
  }

  /**
   * Brings specific paths up to date (watcher events). Paths that no longer exist,
   * or are now ignored, lose their blocks; everything else is re-read.
   */
  async updatePaths(paths: readonly string[], options: IndexRunOptions = {}): Promise<IndexReport> {
    const { scanner, store } = this.parts;
    const started = Date.now();
    const report = emptyReport();
    const records = await store.files(paths);
    const changed: WalkedFile[] = [];
    const removed: string[] = [];
    const skipped: Array<{ record: FileRecord; blocks: MemoryBlock[] }> = [];
    for (const path of new Set(paths)) {
      report.filesSeen++;
      const entry = await scanner.statFile(path);
      if (entry === null) {
        if (records.has(path)) removed.push(path);
      } else if ('reason' in entry) {
        report.filesSkipped++;
        if (records.get(path)?.skip !== entry.reason) skipped.push({ record: skippedRecord(entry), blocks: [] });
      } else {
        const rec = records.get(path);
        if (rec && rec.size === entry.size && rec.mtimeMs === entry.mtimeMs) report.filesUnchanged++;
        else changed.push(entry);
      }
    }
    if (removed.length > 0) {
      await store.deleteFiles(removed);
      report.filesDeleted = removed.length;
    }
    if (skipped.length > 0) await store.writeFiles(skipped);
    await this.processFiles(changed, 'index', report, options);
    await this.finish(report, started);
    return report;
  }

  private async pathsWithOldModel(): Promise<Set<string>> {
    const paths = new Set<string>();
    for (const block of await this.parts.store.blocksNeedingModel(this.parts.compressor.id, Number.MAX_SAFE_INTEGER)) {
      paths.add(block.path);
    }
    return paths;
  }

  private async processFiles(files: readonly WalkedFile[], phase: Progress['phase'], report: IndexReport, options: IndexRunOptions): Promise<void> {
    const { signal, onProgress } = options;
    const progress = new ProgressMeter(phase, files, onProgress);
    let batch: PreparedFile[] = [];
    let batchTokens = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await this.writeBatch(batch, report);
      progress.advance(batch.length, batchTokens);
      batch = [];
      batchTokens = 0;
    };
    for (const file of files) {
      if (signal?.aborted) throw new CancelledError('indexing cancelled');
      const prepared = await this.prepare(file);
      batch.push(prepared);
      batchTokens += prepared.record.tokens;
      if (batch.length >= BATCH_FILES || batchTokens >= BATCH_TOKENS) await flush();
    }
    if (signal?.aborted) throw new CancelledError('indexing cancelled');
    await flush();
  }

  /** Reads and chunks one file; skipped files become records without blocks. */
  private async prepare(file: WalkedFile): Promise<PreparedFile> {
    const source = await this.parts.scanner.read(file);
    if (isSkipped(source)) return { record: skippedRecord(source, file), chunks: [] };
    const chunks = await this.parts.chunker.chunk(source.path, source.text, { maxTokens: this.parts.maxTokens });
    return { record: textRecord(source, chunks), chunks };
  }

  private async writeBatch(batch: readonly PreparedFile[], report: IndexReport): Promise<void> {
    const { compressor, store } = this.parts;
    const chunks = batch.flatMap((file) => file.chunks);
    const compressed = await store.compressedByHash(unique(chunks.map((c) => c.hash)), compressor.id);
    report.chunksReused += chunks.filter((c) => compressed.has(c.hash)).length;

    // Compress each distinct new content once, even when it occurs in several files.
    const fresh = new Map<string, Chunk>();
    for (const chunk of chunks) if (!compressed.has(chunk.hash)) fresh.set(chunk.hash, chunk);
    const freshChunks = [...fresh.values()];
    const outputs = await compressor.compress(freshChunks);
    freshChunks.forEach((chunk, i) => compressed.set(chunk.hash, outputs[i] as Compressed));

    const writes = batch.map(({ record, chunks: fileChunks }) => ({
      record,
      blocks: fileChunks.map((chunk) => toBlock(chunk, compressed.get(chunk.hash) as Compressed, compressor.id, record.hash)),
    }));
    await store.writeFiles(writes);
    for (const { record, blocks } of writes) {
      if (record.skip) report.filesSkipped++;
      else report.filesIndexed++;
      report.blocksWritten += blocks.length;
      report.tokens += record.tokens;
    }
  }

  private async finish(report: IndexReport, started: number, compact = false): Promise<void> {
    // Every write adds fragments and versions; compaction keeps searches fast and the
    // store size tracking live data, after a big rewrite or after many small updates.
    this.filesSinceOptimize += report.filesIndexed + report.filesDeleted;
    if (compact || this.filesSinceOptimize >= OPTIMIZE_EVERY_FILES) {
      await this.parts.store.optimize();
      this.filesSinceOptimize = 0;
    }
    report.ms = Date.now() - started;
  }
}

interface PreparedFile {
  record: FileRecord;
  chunks: Chunk[];
}

function emptyReport(): IndexReport {
  return {
    filesSeen: 0,
    filesIndexed: 0,
    filesUnchanged: 0,
    filesDeleted: 0,
    filesSkipped: 0,
    blocksWritten: 0,
    chunksReused: 0,
    tokens: 0,
    recoveredOrphans: 0,
    ms: 0,
  };
}

function textRecord(source: SourceText, chunks: readonly Chunk[]): FileRecord {
  return {
    path: source.path,
    size: source.size,
    mtimeMs: source.mtimeMs,
    hash: source.hash,
    skip: null,
    blocks: chunks.length,
    tokens: chunks.reduce((sum, c) => sum + c.tokens, 0),
  };
}

function skippedRecord(skip: SkippedFile, file?: WalkedFile): FileRecord {
  return { path: skip.path, size: file?.size ?? 0, mtimeMs: file?.mtimeMs ?? 0, hash: '', skip: skip.reason, blocks: 0, tokens: 0 };
}

/** A block for the store, with lexical terms from the raw text (which the store does not keep). */
function toBlock(chunk: Chunk, compressed: Compressed, model: string, fileHash: string): BlockInput {
  return {
    terms: termsOf(chunk.text, chunk.path.split(/[/\\.]+/), chunk.symbols),
    id: chunk.id,
    path: chunk.path,
    startLine: chunk.startLine,
    endLine: chunk.endLine,
    lang: chunk.lang,
    symbols: chunk.symbols,
    hash: chunk.hash,
    tokens: chunk.tokens,
    compressed: compressed.compressed,
    compressedTokens: compressed.compressedTokens,
    vector: compressed.vector,
    model,
    fileHash,
  };
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/** Files and tokens done of total, rate and ETA. Token totals are estimated from bytes until read. */
class ProgressMeter {
  private filesDone = 0;
  private tokensDone = 0;
  private readonly started = Date.now();
  private readonly tokensTotal: number;

  constructor(
    private readonly phase: Progress['phase'],
    private readonly files: readonly WalkedFile[],
    private readonly onProgress: ((p: Progress) => void) | undefined,
  ) {
    // About four bytes per token in source code.
    this.tokensTotal = Math.round(files.reduce((sum, f) => sum + f.size, 0) / 4);
    this.emit();
  }

  advance(files: number, tokens: number): void {
    this.filesDone += files;
    this.tokensDone += tokens;
    this.emit();
  }

  private emit(): void {
    if (!this.onProgress) return;
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? this.tokensDone / secs : 0;
    const total = Math.max(this.tokensTotal, this.tokensDone);
    const filesLeft = this.files.length - this.filesDone;
    this.onProgress({
      phase: this.filesDone === this.files.length ? 'done' : this.phase,
      filesDone: this.filesDone,
      filesTotal: this.files.length,
      tokensDone: this.tokensDone,
      tokensTotal: total,
      tokensPerSec: Math.round(rate),
      etaSec: rate > 0 && filesLeft > 0 ? Math.round((total - this.tokensDone) / rate) : null,
    });
  }
}
