// Identifier and word splitting shared by the recall vector and the lexical terms,
// so a question ("retry delay") and code (`retryDelay`, `RETRY_DELAY`) meet.

/** Identifiers and words in any script (`$` and `_` belong to identifiers). */
export const WORD = /[\p{L}_$][\p{L}\p{N}_$]*/gu;

/** Sub-words of one identifier: camelCase, PascalCase, snake_case, kebab, digits. */
const PART = /\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?[\p{Ll}\p{Lo}\p{M}]+|\p{Lu}+|\p{L}+/gu;

/** Lowercased sub-words of an identifier, e.g. `parseHTTPResponse2` -> parse, http, response. */
export function subWords(identifier: string): string[] {
  const out: string[] = [];
  PART.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = PART.exec(identifier)) !== null) out.push(m[0].toLowerCase());
  return out;
}

/**
 * Words that carry no meaning for recall: English function words of questions and
 * the keywords every language repeats. Dropped from vectors and query terms alike.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a an the is are was were be been being am do does did done doing have has had ' +
    'where what which who whom whose when why how there here this that these those ' +
    'it its of in on at to from by for with without into onto about as and or not no nor ' +
    'if else then than so but can could should would will shall may might must ' +
    'i me my we our you your he she they them their his her ' +
    'any all some each every get set find show tell use used uses using ' +
    'const let var function return new import export default class interface type ' +
    'public private protected static readonly async await void def self fn pub mut ' +
    'true false null undefined none nil end begin'
  ).split(' '),
);

/** Crude English suffix stripping so `retries`/`retry`, `configured`/`configure` share a stem. */
export function stem(word: string): string {
  let w = word;
  const n = w.length;
  if (n > 5 && w.endsWith('ies')) w = w.slice(0, -3) + 'y';
  else if (n > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (n > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  else if (n > 3 && w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us')) w = w.slice(0, -1);
  if (w.length > 4 && w.endsWith('e')) w = w.slice(0, -1);
  return w;
}

const QUOTED = /`([^`\n]{1,200})`/g;
/** A kebab-case name (`no-unused-vars`, `css-loader`): a file's, so a module's, not an identifier. */
export const KEBAB_NAME = /^\p{Ll}[\p{Ll}\p{N}]*(?:-[\p{Ll}\p{N}]+)+$/u;
const ONE_IDENTIFIER = /^\s*[\p{L}_$][\p{L}\p{N}_$]*\s*$/u;
/** Keywords: never a name, even alone in backticks. Other stop words alone in backticks are (rxjs's `not`, `every`). */
const KEYWORDS: ReadonlySet<string> = new Set(
  'const let var function return new import export default class interface type public private protected static readonly async await void def self fn pub mut true false null undefined none nil end begin if else for while'.split(' '),
);
export const CODE_SHAPED = /[_$]|\p{Ll}\p{Lu}|\p{L}\p{N}/u;

/**
 * The code names a question asks about: identifiers in backticks, and words shaped like
 * code (`snake_case`, `camelCase`, `$x`, `v2`) anywhere. Plain words are not names; a
 * stop word is one only alone in backticks (`not`), never a keyword.
 */
export function namesIn(question: string): string[] {
  const out = new Set<string>();
  for (const m of question.matchAll(QUOTED)) {
    const quoted = m[1]!;
    if (KEBAB_NAME.test(quoted)) {
      out.add(quoted);
      continue;
    }
    for (const w of quoted.match(WORD) ?? []) {
      const low = w.toLowerCase();
      if (!STOP_WORDS.has(low) || (ONE_IDENTIFIER.test(quoted) && !KEYWORDS.has(low))) out.add(w);
    }
  }
  for (const w of question.match(WORD) ?? []) if (CODE_SHAPED.test(w)) out.add(w);
  return [...out];
}

/** Whether `line` holds one of `names` as a whole identifier (not part of a longer one). */
export function mentionsAny(line: string, names: readonly string[]): boolean {
  return !occurrences(line, names).next().done;
}

/**
 * Where `line` holds one of `names` as a whole identifier: [start, end) in UTF-8 bytes, in
 * line order. Mirrors name_ranges in training/engram_training/names.py.
 */
export function nameRanges(line: string, names: readonly string[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [at, n] of occurrences(line, names)) {
    const start = Buffer.byteLength(line.slice(0, at), 'utf8');
    out.push([start, start + Buffer.byteLength(n, 'utf8')]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** Each whole-identifier occurrence of one of `names` in `line`: its character index and the name. */
function* occurrences(line: string, names: readonly string[]): Generator<[number, string]> {
  for (const n of names) {
    let at = n ? line.indexOf(n) : -1;
    while (at >= 0) {
      const before = at > 0 ? line[at - 1]! : '';
      const after = line[at + n.length] ?? '';
      if (!IDENT_CHAR.test(before) && !IDENT_CHAR.test(after)) yield [at, n];
      at = line.indexOf(n, at + 1);
    }
  }
}

const IDENT_CHAR = /[\p{L}\p{N}_$]/u;

/** Declaration words that may precede a defined name, across the supported languages. */
const DECL = String.raw`(?:export|default|async|static|public|private|protected|abstract|readonly|function\*?|def|class|const|let|var|val|interface|type|enum|struct|fn|func|pub)`;

/** Words that may precede a method's name in its head. */
const METHOD_WORDS = String.raw`(?:async|static|public|private|protected|override|readonly|abstract|get|set)`;
/** Lines after `name(` that a head's parameters may take, one a line as formatters put them. */
export const SPREAD_HEAD_LINES = 12;
/** Lines a parameter list may take, a parameter a line (simplejson's `_make_iterencode` takes 25). */
const PARAMETER_LINES = 60;

/**
 * The line where the parameter list of the head on lines[at] closes (a default's own calls
 * counted); null when none opens within SPREAD_HEAD_LINES or it does not close within PARAMETER_LINES.
 */
export function parametersClose(lines: readonly string[], at: number): number | null {
  const last = Math.min(lines.length - 1, at + PARAMETER_LINES);
  let depth = 0;
  for (let j = at; j <= last; j++) {
    for (const ch of lines[j]!) {
      if (ch === '(') depth++;
      else if (ch === ')' && depth > 0 && --depth === 0) return j;
    }
    if (depth === 0 && j >= at + SPREAD_HEAD_LINES) return null;
  }
  return null;
}

/** What follows a method head's closing parenthesis: an optional return type, then the body's brace. */
const HEAD_END = /^\s*(?::[^;={}]*)?\{\s*$/;

/**
 * Whether `line` defines one of `names` (not just uses it), by the shape every supported
 * language shares: declaration words then the name (`export const X`, `def x`, `class X`),
 * an assignment to the name (`X = 3`, `self.x: int = 3`), or a method head (`x(a, b) {`).
 * Given the line's file, also its default export when the file is named after one of the
 * names. Mirrors defines_any in training/engram_training/names.py (without files: the QA
 * generator asks about named definitions only).
 */
export function definesAny(line: string, names: readonly string[], path?: string): boolean {
  return definer(names, path)(line);
}

/** A line test that, given the line's index among `lines`, also sees heads spread over lines. */
export type LineDefiner = (line: string, at?: number, lines?: readonly string[]) => boolean;

/**
 * What a module's default export defines: a function or class (`module.exports = function (`,
 * `export default (a) =>`), or an object literal written out over the lines after it (a config, an
 * eslint rule); not `{ a, b }` on one line, which exports names defined elsewhere.
 */
const DEFAULT_VALUE = String.raw`(?:(?:async\s+)?(?:function\b|class\b|\(|[\p{L}_$][\p{L}\p{N}_$]*\s*=>)|\{\s*$)`;
const DEFAULT_EXPORT = new RegExp(
  String.raw`^\s*(?:exports\s*=\s*)?module\.exports\s*=\s*${DEFAULT_VALUE}|^\s*export\s+default\s+${DEFAULT_VALUE}`,
  'u',
);

/** Whether `line` binds its module's default export to a function, class or written-out object. */
export function isDefaultExport(line: string): boolean {
  return DEFAULT_EXPORT.test(line);
}

/**
 * The name a module's importers give it by convention: its file's stem (`lib/debounce.js`:
 * `debounce`), or its folder's for an index file (`is-number/index.js`: `is-number`).
 */
export function moduleName(path: string): string {
  const parts = path.split(/[\\/]/);
  const stem = (parts.pop() ?? '').replace(/\.[^.]*$/, '');
  return stem === 'index' && parts.length ? parts.pop()! : stem;
}

/** Whether the file `path` is named after one of `names`, compared without case, `-`, `_` and `.` (`is-number` is `isNumber`). */
export function namesModule(names: readonly string[], path: string): boolean {
  const key = nameKey(moduleName(path));
  return names.some((n) => nameKey(n) === key);
}

function nameKey(name: string): string {
  return name.replace(/[-_.]/g, '').toLowerCase();
}

/**
 * definesAny for many lines: the names' patterns compiled once. Given the line's index in
 * `lines` (as Array.some passes them), a method head spread over lines counts too: `x(` with
 * its parameters on the lines after it, up to `): T {` (`x(` then `a, b);` is a call). Given
 * the lines' file, a default export defines the name its importers bind when the file is
 * named after it: `module.exports = function (fn, wait)` in `debounce.js` is `debounce`
 * (`const debounce = require('./debounce')`), which no line names.
 */
export function definer(names: readonly string[], path?: string): LineDefiner {
  const escaped = names.map(escapeRegExp);
  const patterns = escaped.flatMap((e) =>
    [
      String.raw`^\s*(?:${DECL}\s+)+${e}(?![\p{L}\p{N}_$])`,
      String.raw`^\s*(?:self\.|this\.)?${e}\s*(?::[^=]*)?=(?!=)`,
      String.raw`^\s*${e}\s*\(.*\)\s*(?::[^{]*)?\{\s*$`,
    ].map((p) => new RegExp(p, 'u')),
  );
  const opens = escaped.map((e) => new RegExp(String.raw`^\s*(?:${METHOD_WORDS}\s+)*${e}\s*(?:<[^()]*>)?\(`, 'u'));
  const exported = path !== undefined && namesModule(names, path);
  // `const X = require("./X")` binds X to what another file defines.
  return (line, at, lines) =>
    !isImportLine(line) &&
    (patterns.some((p) => p.test(line)) ||
      (exported && isDefaultExport(line)) ||
      (at !== undefined && lines !== undefined && opens.some((p) => p.test(line)) && spreadHead(lines, at)));
}

const IMPORT = /^\s*(?:import\b|from\s+\S+\s+import\b|export\s+(?:\*|\{[^}]*\})\s+from\b|(?:const|let|var)\s+.*=\s*require\s*\()/;

/** Whether a line imports names (`import`, `from m import`, `export {..} from`, `require(`): it defines none. Mirrors is_import_line in names.py. */
export function isImportLine(line: string): boolean {
  return IMPORT.test(line);
}

// Quoted strings; not template literals or Python f-strings, whose `${...}` and `{...}` are code.
const STRING_LITERAL = /(?<![fF]|[fF][rRbB]|[rRbB][fF])(["'])(?:\\.|(?!\1).)*\1/g;
// `// ...` anywhere after code, `# ...` (Python) after a space: not `this.#field` or `'#'`.
const TRAILING_COMMENT = /(?:^|\s)(?:\/\/|#(?=\s|$)).*$/;

/** A line of code with its string literals emptied and a trailing comment cut: what it does, not what it says. */
export function codeOnly(line: string): string {
  return line.replace(STRING_LITERAL, '""').replace(TRAILING_COMMENT, '');
}

/** `text` matched literally inside a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether the parenthesis opened on lines[at] closes within a few lines and a body's brace follows it. */
function spreadHead(lines: readonly string[], at: number): boolean {
  let depth = 0;
  let opened = false;
  for (let i = at; i < Math.min(lines.length, at + 1 + SPREAD_HEAD_LINES); i++) {
    const line = lines[i]!;
    for (let c = 0; c < line.length; c++) {
      const ch = line[c];
      if (ch === '(') {
        depth++;
        opened = true;
      } else if (ch === ')') depth--;
      if (opened && depth === 0) return i > at && HEAD_END.test(line.slice(c + 1));
    }
  }
  return false;
}
