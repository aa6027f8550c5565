// Line classes of the structural compressor, language-agnostic (C-like, Python,
// Go, Rust, Java, shell, config files). Lower rank is kept first.

export const LineClass = {
  Declaration: 0, // signatures, type/class/function heads, exports
  Literal: 1, // NAME = literal / key: literal (constants and config values)
  Doc: 2, // first line of a comment block
  Import: 3, // condensed into one line per chunk
  Exit: 4, // return / throw / raise / yield
  Control: 5, // if / for / while / switch / try heads
  Statement: 6, // everything else in bodies
  Comment: 7, // further comment lines
  Drop: 8, // blank lines and pure punctuation (`}`, `});`)
} as const;
export type LineClass = (typeof LineClass)[keyof typeof LineClass];

const COMMENT_START = /^(\/\/|\/\*|\*|#(?!include|!|\[)|--|;;|"""|'''|<!--|%)/;
const IMPORT =
  /^(import\b|from\s+[\w.]+\s+import\b|#include\b|using\s+[\w.]+\s*;|use\s+[\w:{}, *]+;|package\s+[\w.]+;?$|require\s*\(|(const|let|var)\s+[\w${}\s,:]+=\s*require\s*\()/;
const DECLARATION = new RegExp(
  '^(export\\b|module\\.exports\\b|exports\\.|__all__\\b|@[A-Za-z]|' +
    '((public|private|protected|internal|static|abstract|final|override|virtual|sealed|partial|async|declare|default|extern|inline|unsafe|pub(\\([\\w:]+\\))?|readonly|open|data|suspend)\\s+)*' +
    '(function\\*?|class|interface|type|enum|namespace|module|struct|union|trait|impl|fn|def|func|object|record|protocol|extension|typedef|template|macro_rules!|let\\s+rec)\\b)',
);
// `name(args) {` or `name(args): T {` method heads (control keywords excluded below)
const METHOD_HEAD =
  /^(?:(?:public|private|protected|static|async|override|readonly|get|set|final|virtual|abstract|synchronized|\*)\s+)*[A-Za-z_$][\w$<>,.\[\]\s]*?\s*\([^;]*\)\s*(?::\s*[^;={]+|->\s*[^;{]+|throws\s+[\w., ]+)?\s*(\{|=>\s*\{?|:)?\s*$/;
const CONTROL = /^(\}\s*)?(if|else|for|foreach|while|do|switch|case|try|catch|except|finally|with|match|when|loop|elif|unless|until|select|defer|go)\b/;
const EXIT = /^(return|throw|raise|yield|panic!?|exit)\b/;
const LITERAL_VALUE =
  '(-?\\d[\\w.+-]*|"(?:[^"\\\\]|\\\\.)*"|\'(?:[^\'\\\\]|\\\\.)*\'|`[^`$]*`|true|false|null|nil|None|True|False|undefined|\\[[^\\]\\[{}()]*\\]|\\{[^{}()]*\\})';
// `const NAME = 250;`, `NAME: Type = 'x'`, `retries: 3,`, `"key": "value"`, `KEY=value` (env/ini)
const LITERAL = new RegExp(
  '^(?:(?:export|const|let|var|val|final|static|public|private|protected|readonly|pub|mut|define|#define)\\s+)*' +
    '(?:[A-Za-z_$][\\w$.]*|"[^"]+"|\'[^\']+\')\\s*(?::\\s*[\\w<>\\[\\], |.]+?\\s*)?(?:=|:|:=|\\s)\\s*' +
    LITERAL_VALUE +
    '\\s*[,;]?\\s*(?://.*|#.*)?$',
);
const PUNCT_ONLY = /^[\s{}()\[\];,.)]*$/;

export function classify(trimmed: string, previousWasComment: boolean): LineClass {
  if (trimmed.length === 0 || PUNCT_ONLY.test(trimmed)) return LineClass.Drop;
  if (COMMENT_START.test(trimmed)) return previousWasComment ? LineClass.Comment : LineClass.Doc;
  if (IMPORT.test(trimmed)) return LineClass.Import;
  if (LITERAL.test(trimmed)) return LineClass.Literal;
  if (DECLARATION.test(trimmed)) return LineClass.Declaration;
  if (CONTROL.test(trimmed)) return LineClass.Control;
  if (EXIT.test(trimmed)) return LineClass.Exit;
  if (METHOD_HEAD.test(trimmed)) return LineClass.Declaration;
  return LineClass.Statement;
}

/** True when the comment line holds no words (`/**`, `*\/`, `#`, `"""`), so the doc line is the next one. */
export function isEmptyComment(trimmed: string): boolean {
  return !/[\p{L}\p{N}]/u.test(trimmed);
}

/**
 * Condenses one import statement: `import { a, b } from './x';` -> `./x{a, b}`,
 * `from os.path import join` -> `os.path{join}`, `import os` -> `os`,
 * `#include <stdio.h>` -> `stdio.h`. Unknown forms are returned whitespace-collapsed.
 */
export function condenseImport(statement: string): string {
  const s = statement.replace(/\s+/g, ' ').trim().replace(/;$/, '');
  let m = /^import\s+(?:type\s+)?(.+?)\s+from\s+['"]([^'"]+)['"]$/.exec(s);
  if (m) return `${m[2]}{${(m[1] ?? '').replace(/[{}]/g, '').trim()}}`;
  m = /^import\s+['"]([^'"]+)['"]$/.exec(s);
  if (m) return m[1] ?? s;
  m = /^from\s+(\S+)\s+import\s+(.+)$/.exec(s);
  if (m) return `${m[1]}{${(m[2] ?? '').replace(/[()]/g, '').trim()}}`;
  m = /^(?:const|let|var)\s+(.+?)\s*=\s*require\s*\(\s*['"]([^'"]+)['"]\s*\)/.exec(s);
  if (m) return `${m[2]}{${(m[1] ?? '').replace(/[{}]/g, '').trim()}}`;
  m = /^#include\s+[<"]([^>"]+)[>"]/.exec(s);
  if (m) return m[1] ?? s;
  m = /^(?:import|use|using)\s+(.+)$/.exec(s);
  if (m) return m[1] ?? s;
  return s;
}
