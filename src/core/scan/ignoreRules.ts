import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Ignore files read in every directory, lowest precedence first (as ripgrep: .ignore beats .gitignore). */
export const IGNORE_FILE_NAMES: readonly string[] = ['.gitignore', '.ignore', '.engramignore'];

/** Version-control metadata: never entered and not re-includable, whatever the rule files say. */
export const HARD_EXCLUDED_NAMES: ReadonlySet<string> = new Set(['.git', '.hg', '.svn', '.bzr', '.jj']);

/**
 * Default excludes, in gitignore syntax, relative to the root. They form the lowest-precedence rule
 * layer, below every .gitignore/.ignore/.engramignore, so a negation in any of those files
 * re-includes a default (e.g. `!vendor/` in .engramignore, or `!/src/build/` for one folder only).
 * Only the VCS folders above are hard excludes.
 */
export const DEFAULT_EXCLUDES: readonly string[] = [
  // dependencies and vendored code
  'node_modules/',
  'bower_components/',
  'vendor/',
  'third_party/',
  // build outputs, caches, tool state
  'dist/',
  'build/',
  'out/',
  'target/',
  '.next/',
  '.nuxt/',
  '.svelte-kit/',
  '.turbo/',
  '.parcel-cache/',
  'coverage/',
  '__pycache__/',
  '.venv/',
  'venv/',
  '.tox/',
  '.mypy_cache/',
  '.pytest_cache/',
  '.ruff_cache/',
  '.gradle/',
  '.idea/',
  '.vscode-test/',
  '.terraform/',
  // lockfiles
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lock',
  'Cargo.lock',
  'poetry.lock',
  'Pipfile.lock',
  'uv.lock',
  'Gemfile.lock',
  'composer.lock',
  'go.sum',
  'pubspec.lock',
  'Podfile.lock',
  'mix.lock',
  // generated artefacts
  '*.min.js',
  '*.min.css',
  '*.map',
  '.DS_Store',
];

const MAX_IGNORE_FILE_BYTES = 1_000_000;
/** Case-insensitive file systems get case-insensitive patterns, like git's core.ignorecase. */
const IGNORE_CASE = process.platform === 'darwin' || process.platform === 'win32';

/** Escapes a literal directory name so it is not read as a glob. */
function escapeGlob(s: string): string {
  return s.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/**
 * Rewrites one line of an ignore file that lives in `base` (repo-relative, '' for the root) into an
 * equivalent root-relative pattern, so all layers can be evaluated by one matcher with git's
 * precedence (later lines win, deeper files come later). Returns null for blanks and comments.
 */
export function rebasePattern(rawLine: string, base: string): string | null {
  let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  // Trailing spaces are dropped unless escaped with a backslash (git).
  while (line.endsWith(' ') && !line.endsWith('\\ ')) line = line.slice(0, -1);
  if (line === '' || line.startsWith('#')) return null;
  if (base === '') return line;
  let neg = '';
  if (line.startsWith('!')) {
    neg = '!';
    line = line.slice(1);
  }
  const body = line.endsWith('/') ? line.slice(0, -1) : line;
  if (body === '' || body === '/') return null;
  // A slash at the start or in the middle anchors the pattern to the ignore file's directory;
  // otherwise it matches at any depth below it.
  const anchored = body.includes('/');
  const rest = line.startsWith('/') ? line.slice(1) : line;
  return `${neg}/${escapeGlob(base)}/${anchored ? '' : '**/'}${rest}`;
}

function patternsOf(content: string, base: string): string[] {
  const out: string[] = [];
  for (const line of content.split('\n')) {
    const p = rebasePattern(line, base);
    if (p !== null) out.push(p);
  }
  return out;
}

/** The rules that apply inside one directory (its own ignore files and all its ancestors'). */
interface DirRules {
  /** Defaults + ignore files from the root down to this directory. */
  chain: Ignore;
  /** `chain` + the user's excludes (highest precedence): what paths are tested against. */
  matcher: Ignore;
}

/**
 * Lazily built, cached rule sets per directory. A directory without ignore files shares its
 * parent's object, so memory and lookups stay cheap on huge trees.
 */
export class IgnoreRules {
  private readonly byDir = new Map<string, DirRules>();
  private readonly user: Ignore;

  constructor(
    private readonly rootAbs: string,
    userExcludes: readonly string[],
  ) {
    this.user = ignore({ ignorecase: IGNORE_CASE }).add(userExcludes.filter((p) => p.trim() !== ''));
  }

  invalidate(): void {
    this.byDir.clear();
  }

  /** True if a repo-relative path ('/'-separated, no leading slash) is excluded by its own
   *  rules; callers check ancestors separately (a walk never enters ignored directories). */
  testOwn(dirRules: DirRules, relPath: string, isDirectory: boolean): boolean {
    try {
      return dirRules.matcher.ignores(isDirectory ? `${relPath}/` : relPath);
    } catch {
      return false; // a name the matcher cannot take (never a reason to crash a walk)
    }
  }

  /** Rules for a directory, loading its ignore files synchronously if not cached (watcher path). */
  getSync(dirRel: string): DirRules {
    const cached = this.byDir.get(dirRel);
    if (cached) return cached;
    const parent = dirRel === '' ? undefined : this.getSync(parentOf(dirRel));
    const contents: string[] = [];
    for (const name of IGNORE_FILE_NAMES) {
      const text = readSmallSync(join(this.rootAbs, dirRel, name));
      if (text !== null) contents.push(text);
    }
    if (dirRel === '') {
      const exclude = readSmallSync(join(this.rootAbs, '.git', 'info', 'exclude'));
      if (exclude !== null) contents.unshift(exclude);
    }
    return this.store(dirRel, parent, contents);
  }

  /** Rules for a directory the walk is listing; `present` = ignore file names found in it. */
  async getAsync(dirRel: string, present: readonly string[]): Promise<DirRules> {
    const cached = this.byDir.get(dirRel);
    if (cached) return cached;
    if (dirRel === '') return this.getSync('');
    const parent = this.byDir.get(parentOf(dirRel)) ?? this.getSync(parentOf(dirRel));
    const contents: string[] = [];
    for (const name of IGNORE_FILE_NAMES) {
      if (!present.includes(name)) continue;
      const text = await readSmall(join(this.rootAbs, dirRel, name));
      if (text !== null) contents.push(text);
    }
    return this.store(dirRel, parent, contents);
  }

  private store(dirRel: string, parent: DirRules | undefined, contents: string[]): DirRules {
    let rules: DirRules;
    const patterns = contents.flatMap((c) => patternsOf(c, dirRel));
    if (parent && patterns.length === 0) {
      rules = parent;
    } else {
      const chain = ignore({ ignorecase: IGNORE_CASE });
      if (parent) chain.add(parent.chain);
      else chain.add(DEFAULT_EXCLUDES as string[]);
      chain.add(patterns);
      rules = { chain, matcher: ignore({ ignorecase: IGNORE_CASE }).add(chain).add(this.user) };
    }
    this.byDir.set(dirRel, rules);
    return rules;
  }
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function readSmallSync(path: string): string | null {
  try {
    const buf = readFileSync(path);
    return buf.subarray(0, MAX_IGNORE_FILE_BYTES).toString('utf8');
  } catch {
    return null; // absent or unreadable: no rules from it
  }
}

async function readSmall(path: string): Promise<string | null> {
  try {
    const buf = await readFile(path);
    return buf.subarray(0, MAX_IGNORE_FILE_BYTES).toString('utf8');
  } catch {
    return null;
  }
}
