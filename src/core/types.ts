// Shared contracts of the engine (see DESIGN.md, "Contracts other parts rely on").
// Every layer of core/ speaks these types; nothing here imports anything.

/** Why a file was not turned into memory blocks. */
export type SkipReason =
  | 'binary' // NUL bytes or a known magic number
  | 'too-large' // over the size limit
  | 'minified' // minified or generated (line-length statistics)
  | 'undecodable' // not valid UTF-8 text
  | 'unreadable' // permission denied or another read error
  | 'vanished' // deleted between listing and reading
  | 'secret' // .env, keys, credentials: never put into memory by default
  | 'symlink-outside' // a symlink that leaves the root (not allowed by default)
  | 'symlink-loop'; // a symlink cycle

export const SKIP_REASONS: readonly SkipReason[] = [
  'binary',
  'too-large',
  'minified',
  'undecodable',
  'unreadable',
  'vanished',
  'secret',
  'symlink-outside',
  'symlink-loop',
];

/** A file found by the walk that passed the ignore rules. Paths are repo-relative, '/'-separated. */
export interface WalkedFile {
  path: string;
  absPath: string;
  size: number;
  mtimeMs: number;
}

export interface SkippedFile {
  path: string;
  reason: SkipReason;
  detail?: string;
}

/** A file's text after the content checks passed. */
export interface SourceText {
  path: string;
  text: string;
  /** sha256 of the raw bytes, hex. */
  hash: string;
  size: number;
  mtimeMs: number;
}

/** A piece of one file, cut at definition boundaries. 1-based inclusive line numbers. */
export interface Chunk {
  /** Stable id: derived from path, start line and content hash. */
  id: string;
  path: string;
  startLine: number;
  endLine: number;
  lang: string;
  /** Names the chunk defines (functions, classes, methods, types, constants). */
  symbols: string[];
  text: string;
  tokens: number;
  /** sha256 of `text`, hex: the key that lets identical content skip compression. */
  hash: string;
}

/** What a compressor makes of one chunk. */
export interface Compressed {
  /** Text form: the kept tokens, readable by any reasoner. */
  compressed: string;
  compressedTokens: number;
  /** Recall vector, L2-normalised. */
  vector: Float32Array;
}

/** A memory block as stored and served (DESIGN.md "Memory block"). */
export interface MemoryBlock extends Compressed {
  id: string;
  path: string;
  startLine: number;
  endLine: number;
  lang: string;
  symbols: string[];
  hash: string;
  tokens: number;
  /** Compressor name@version that produced `compressed` and `vector`. */
  model: string;
  /** Content hash of the whole file the block was cut from (for crash recovery). */
  fileHash: string;
}

/** Whether a block's symbols define `name`, itself or as a member (`Pool.acquire` defines `acquire`). */
export function definesSymbol(symbols: readonly string[], name: string): boolean {
  return symbols.some((s) => s === name || s.endsWith(`.${name}`));
}

/** What the store remembers about each file of the workspace. */
export interface FileRecord {
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the file bytes; empty for skipped files that were not read. */
  hash: string;
  skip: SkipReason | null;
  /** Number of blocks written for the file. */
  blocks: number;
  tokens: number;
}

export interface SearchHit {
  blockId: string;
  path: string;
  startLine: number;
  endLine: number;
  score: number;
}

/** One step of answering a question (DESIGN.md "Trace events"). */
export interface TraceEvent {
  type: 'gate' | 'read' | 'memory' | 'answer' | 'error';
  step: number;
  blockId?: string;
  path?: string;
  startLine?: number;
  endLine?: number;
  score?: number;
  memory?: string;
  text?: string;
  tokens?: number;
  ms: number;
}

/** Progress of long work, for stderr, JSON-RPC notifications and the status bar. */
export interface Progress {
  phase: 'scan' | 'index' | 'recompress' | 'done';
  filesDone: number;
  filesTotal: number;
  tokensDone: number;
  tokensTotal: number;
  tokensPerSec: number;
  etaSec: number | null;
}

/** Errors the user caused (bad input, usage): exit code 1 with a clear message. */
export class UserError extends Error {
  override readonly name = 'UserError';
}

/** Thrown when work is cancelled through an AbortSignal. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

/** How a question is answered (same reasoner and blocks in every mode). */
export type AskMode = 'gated' | 'memagent' | 'full' | 'rag';
export const ASK_MODES: readonly AskMode[] = ['gated', 'memagent', 'full', 'rag'];

/**
 * A working-memory range written `PATH:START-END…` goes on past its block (a long body): the
 * block that continues it starts within this many lines after END (blank lines between blocks).
 */
export const CONTINUATION_GAP = 3;

export interface Citation {
  path: string;
  startLine: number;
  endLine: number;
}

export interface AskStats {
  blocksTotal: number;
  blocksRead: number;
  tokensRead: number;
  ms: number;
  peakRssMb: number;
  /** Citations the reasoner gave that point outside the lines it read (dropped). */
  citationsDropped?: number;
  /** All tokens the reasoner read and wrote for this question (prompts included). */
  modelTokens?: number;
  /** Why reading stopped early (a token or time budget), when it did. */
  stopped?: string;
}

/**
 * How sure an answer is: 'answer' = the reasoner answered; 'evidence' = it found no confident
 * answer and `answer` says so, quoting the closest evidence it read (cited); 'none' = nothing found.
 */
export type AnswerConfidence = 'answer' | 'evidence' | 'none';

/** A line that uses a name, as found by the code's shape. */
export interface Reference extends Citation {
  /** The line, trimmed. */
  text: string;
  /** For a method asked with its class (`Pool.close`): the file names the class (these are listed first). */
  namesClass?: boolean;
}

/** `engram ask --json` and the JSON-RPC `ask` result (DESIGN.md). */
export interface AskResult {
  answer: string;
  citations: Citation[];
  /**
   * A uses question ("who calls X"): every line that uses X in the blocks that mention it and
   * those read, also past what the working memory holds; in path and line order (a method asked
   * with its class: those in files naming the class first), at most REFERENCES_MAX.
   */
  references?: Reference[];
  steps: TraceEvent[];
  stats: AskStats;
  confidence: AnswerConfidence;
  /** The question as the engine read it, when it reworded the user's (`Where is \`x\` defined?` for "find x"). */
  interpreted?: string;
}
