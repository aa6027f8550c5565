// The code-aware chunker: tree-sitter parse → pieces at definition boundaries → Chunks.
//
// How a chunk's text relates to its lines: the text always ENDS with the source lines
// startLine..endLine exactly (joined with '\n', line ends normalised, nothing else changed).
// A piece of a cut definition that starts after the definition's signature has a prefix in
// front: the signature line(s) of the enclosing definition(s), then one marker line
// `<comment> …` (e.g. `// …`, `# …`). So the last endLine-startLine+1 lines of `text` are the
// cited source. One exception: a single line too long for the budget is cut into several
// chunks that all have startLine = endLine = that line, each holding a part of it.
import { Language, Parser, type Tree } from 'web-tree-sitter';
import { isDefaultExport, moduleName } from '../compress/identifiers.js';
import { sha256Hex, stableId } from '../hash.js';
import { countTokens } from '../tokens.js';
import { UserError, type Chunk } from '../types.js';
import { TreeCutter } from './cut.js';
import { grammarWasmPath, runtimeWasmPath } from './grammars.js';
import { CODE_LANGUAGES, isCodeLanguage, languageOf, refineLanguage, type CodeLanguage } from './languages.js';
import { Lines, lineWindows, type Piece } from './lines.js';

export interface ChunkOptions {
  /** Token budget per chunk (countTokens), default 512. */
  maxTokens?: number;
}

const DEFAULT_MAX_TOKENS = 512;
const MIN_MAX_TOKENS = 32;
/** Beyond this many characters a file is cut into line windows without parsing. */
const MAX_PARSE_CHARS = 4_000_000;

let runtimeReady: Promise<void> | null = null;

function initRuntime(grammarDir?: string): Promise<void> {
  if (!runtimeReady) {
    const wasm = runtimeWasmPath(grammarDir);
    runtimeReady = Parser.init(wasm ? { locateFile: () => wasm } : undefined).catch((err: unknown) => {
      runtimeReady = null;
      throw err;
    });
  }
  return runtimeReady;
}

export class Chunker {
  private readonly parsers = new Map<CodeLanguage, Promise<Parser | null>>();

  private constructor(private readonly grammarDir: string | undefined) {}

  /** Loads the tree-sitter runtime; grammars load lazily on first use of a language and are cached. */
  static async create(options?: { grammarDir?: string }): Promise<Chunker> {
    await initRuntime(options?.grammarDir);
    return new Chunker(options?.grammarDir);
  }

  /** Language id from the file path (see languages.ts). */
  languageOf(path: string): string {
    return languageOf(path);
  }

  /** Cuts one file into chunks. Deterministic: same (path, text, options) → identical chunks and ids. */
  async chunk(path: string, text: string, options?: ChunkOptions): Promise<Chunk[]> {
    const budget = options?.maxTokens ?? DEFAULT_MAX_TOKENS;
    if (!Number.isInteger(budget) || budget < MIN_MAX_TOKENS) {
      throw new UserError(`maxTokens must be an integer of at least ${MIN_MAX_TOKENS}, got ${String(options?.maxTokens)}`);
    }
    const lang = refineLanguage(languageOf(path), path, text);
    const L = new Lines(text);
    let pieces: Piece[] | null = null;
    if (isCodeLanguage(lang) && text.length <= MAX_PARSE_CHARS) {
      const parser = await this.parser(lang);
      if (parser) pieces = parseAndCut(parser, text, L, budget, CODE_LANGUAGES[lang].comment);
    }
    pieces ??= lineWindows(L, 0, L.count - 1, budget, [], '');
    return toChunks(path, lang, L, pieces);
  }

  private parser(lang: CodeLanguage): Promise<Parser | null> {
    let p = this.parsers.get(lang);
    if (!p) {
      const file = grammarWasmPath(CODE_LANGUAGES[lang].grammar, this.grammarDir);
      p = Language.load(file).then(
        (language) => new Parser().setLanguage(language),
        (err: unknown) => {
          // Noted once per language (the failed promise is cached); files fall back to line windows.
          process.emitWarning(`engram: the ${lang} grammar did not load from ${file} (${err instanceof Error ? err.message : String(err)}); ${lang} files are cut into line windows`);
          return null;
        },
      );
      this.parsers.set(lang, p);
    }
    return p;
  }
}

/** Parse and cut; null when the parse fails (the caller falls back to line windows). */
function parseAndCut(parser: Parser, text: string, L: Lines, budget: number, comment: string): Piece[] | null {
  let tree: Tree | null = null;
  try {
    tree = parser.parse(text);
    if (!tree) return null;
    return new TreeCutter(L, budget, comment).cut(tree.rootNode);
  } catch {
    return null;
  } finally {
    tree?.delete(); // WASM memory is not garbage collected
  }
}

/** Languages whose modules have a default export that importers name (`module.exports =`, `export default`). */
const DEFAULT_EXPORTING: ReadonlySet<string> = new Set(['javascript', 'typescript', 'tsx']);

function toChunks(path: string, lang: string, L: Lines, pieces: Piece[]): Chunk[] {
  const out: Chunk[] = [];
  const seen = new Set<string>();
  // A default export is named by its file (`const debounce = require('./debounce')`): that name is its
  // block's symbol, so the index's terms and recall's search by name find it.
  const exported = DEFAULT_EXPORTING.has(lang) ? moduleName(path) : null;
  for (const p of pieces) {
    let { start, end } = p;
    if (p.partText === undefined) {
      while (start <= end && L.blank(start)) start++;
      while (end >= start && L.blank(end)) end--;
      if (start > end) continue;
    }
    const source = p.partText ?? L.text(start, end);
    const text = p.prefix + source;
    const tokens = (p.prefix ? countTokens(p.prefix) : 0) + (p.partText !== undefined ? countTokens(p.partText) : L.tokens(start, end));
    const hash = sha256Hex(text);
    const startLine = start + 1;
    // Parts of one long line share a start line; identical parts still need distinct ids.
    let id = stableId(path, startLine, hash);
    for (let n = 1; seen.has(id); n++) id = stableId(path, startLine, hash, n);
    seen.add(id);
    out.push({
      id,
      path,
      startLine,
      endLine: end + 1,
      lang,
      symbols: [...new Set(exported && source.split('\n').some(isDefaultExport) ? [...p.symbols, exported] : p.symbols)],
      text,
      tokens,
      hash,
    });
  }
  return out;
}
