// Where the tree-sitter WASM files live. The only place that knows: the VS Code
// extension ships its own copies and passes their folder as `overrideDir`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Folder of the prebuilt grammars (package `tree-sitter-wasms`), found through module resolution
 *  so it works from the sources (tsx) and from the esbuild bundle in dist/ alike. */
function packagedGrammarDir(): string {
  // createRequire: resolved at run time from this file's place (src/ or dist/), which esbuild leaves alone.
  return join(dirname(createRequire(__filename).resolve('tree-sitter-wasms/package.json')), 'out');
}

/** Path of `tree-sitter-<grammar>.wasm`, from `overrideDir` when given. */
export function grammarWasmPath(grammar: string, overrideDir?: string): string {
  return join(overrideDir ?? packagedGrammarDir(), `tree-sitter-${grammar}.wasm`);
}

/** Path of the runtime's own `tree-sitter.wasm` when `overrideDir` holds one; otherwise undefined
 *  and web-tree-sitter finds the copy next to its own module. */
export function runtimeWasmPath(overrideDir?: string): string | undefined {
  if (overrideDir === undefined) return undefined;
  const p = join(overrideDir, 'tree-sitter.wasm');
  return existsSync(p) ? p : undefined;
}
