// Language ids from file paths, and what the chunker needs to know per parsed language.

/** Languages cut at definition boundaries with a tree-sitter grammar. */
export type CodeLanguage =
  | 'typescript'
  | 'tsx'
  | 'javascript'
  | 'python'
  | 'go'
  | 'rust'
  | 'java'
  | 'c'
  | 'cpp'
  | 'csharp'
  | 'ruby'
  | 'php';

/** Grammar file stem (`tree-sitter-<stem>.wasm`) and line-comment marker per code language. */
export const CODE_LANGUAGES: Readonly<Record<CodeLanguage, { grammar: string; comment: string }>> = {
  typescript: { grammar: 'typescript', comment: '//' },
  tsx: { grammar: 'tsx', comment: '//' },
  javascript: { grammar: 'javascript', comment: '//' },
  python: { grammar: 'python', comment: '#' },
  go: { grammar: 'go', comment: '//' },
  rust: { grammar: 'rust', comment: '//' },
  java: { grammar: 'java', comment: '//' },
  c: { grammar: 'c', comment: '//' },
  cpp: { grammar: 'cpp', comment: '//' },
  csharp: { grammar: 'c_sharp', comment: '//' },
  ruby: { grammar: 'ruby', comment: '#' },
  php: { grammar: 'php', comment: '//' },
};

export function isCodeLanguage(lang: string): lang is CodeLanguage {
  return Object.prototype.hasOwnProperty.call(CODE_LANGUAGES, lang);
}

const BY_EXTENSION: Readonly<Record<string, string>> = {
  ts: 'typescript', mts: 'typescript', cts: 'typescript',
  tsx: 'tsx',
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript',
  py: 'python', pyi: 'python', pyw: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  c: 'c', h: 'c',
  cc: 'cpp', cpp: 'cpp', cxx: 'cpp', 'c++': 'cpp', hpp: 'cpp', hh: 'cpp', hxx: 'cpp', 'h++': 'cpp', ipp: 'cpp', inl: 'cpp', tpp: 'cpp',
  cs: 'csharp',
  rb: 'ruby', rake: 'ruby', gemspec: 'ruby', ru: 'ruby',
  php: 'php', phtml: 'php',
  // Text without a grammar here: cut into line windows.
  md: 'markdown', markdown: 'markdown', mdx: 'markdown', rst: 'restructuredtext', adoc: 'asciidoc',
  json: 'json', jsonc: 'json', json5: 'json', jsonl: 'json', ipynb: 'json',
  yaml: 'yaml', yml: 'yaml',
  toml: 'toml', ini: 'ini', cfg: 'ini', conf: 'ini', properties: 'properties',
  html: 'html', htm: 'html', xhtml: 'html', vue: 'vue', svelte: 'svelte',
  xml: 'xml', svg: 'xml', xsd: 'xml', plist: 'xml',
  css: 'css', scss: 'scss', sass: 'sass', less: 'less',
  sh: 'shell', bash: 'shell', zsh: 'shell', fish: 'shell', ksh: 'shell',
  ps1: 'powershell', psm1: 'powershell', bat: 'bat', cmd: 'bat',
  sql: 'sql', graphql: 'graphql', gql: 'graphql', proto: 'proto',
  kt: 'kotlin', kts: 'kotlin', swift: 'swift', scala: 'scala', sc: 'scala', dart: 'dart',
  lua: 'lua', pl: 'perl', pm: 'perl', r: 'r', jl: 'julia', ex: 'elixir', exs: 'elixir',
  erl: 'erlang', hs: 'haskell', ml: 'ocaml', mli: 'ocaml', fs: 'fsharp', clj: 'clojure',
  zig: 'zig', nim: 'nim', m: 'objective-c', mm: 'objective-cpp', sol: 'solidity',
  tf: 'terraform', hcl: 'hcl', gradle: 'groovy', groovy: 'groovy', cmake: 'cmake',
  mk: 'makefile', dockerfile: 'dockerfile',
  txt: 'text', text: 'text', log: 'text', csv: 'csv', tsv: 'csv',
};

const BY_NAME: Readonly<Record<string, string>> = {
  dockerfile: 'dockerfile', containerfile: 'dockerfile',
  makefile: 'makefile', gnumakefile: 'makefile',
  rakefile: 'ruby', gemfile: 'ruby', podfile: 'ruby', vagrantfile: 'ruby', guardfile: 'ruby',
  'cmakelists.txt': 'cmake', jenkinsfile: 'groovy',
  '.bashrc': 'shell', '.zshrc': 'shell', '.profile': 'shell', '.bash_profile': 'shell',
};

/** Language id of a path ('/' or '\\' separated). Unknown kinds of text are 'text'. */
export function languageOf(path: string): string {
  const base = (path.split(/[\\/]/).pop() ?? '').toLowerCase();
  const named = BY_NAME[base];
  if (named !== undefined) return named;
  const dot = base.lastIndexOf('.');
  if (dot < 0) return 'text';
  return BY_EXTENSION[base.slice(dot + 1)] ?? 'text';
}

/** `.h` is shared by C and C++; C++ headers parse badly with the C grammar, so look at the text. */
export function refineLanguage(lang: string, path: string, text: string): string {
  if (lang === 'c' && /\.h$/i.test(path) && /^\s*(class|namespace|template\s*<|public:|private:)|\bstd::/m.test(text)) {
    return 'cpp';
  }
  return lang;
}

const PROSE = /\.(md|markdown|mdx|rst|adoc|txt|text)$/i;
const CHANGELOG = /^(changelog|changes|history|news|releases?)([._-]|$)/i;

/** Whether a path is documentation: prose files and changelogs name everything and define nothing. */
export function isProse(path: string): boolean {
  const name = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  return PROSE.test(name) || CHANGELOG.test(name);
}
