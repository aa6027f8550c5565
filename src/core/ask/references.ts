// How a list of references is titled, in the CLI and the sidebar alike. No Node imports: the
// webview bundles it.
import type { Reference } from '../types.js';

/** "All 42 uses found, in 25 files", and for a method asked with its class, how many sit in files naming it. */
export function referencesTitle(refs: readonly Reference[]): string {
  const files = new Set(refs.map((r) => r.path)).size;
  const named = refs.filter((r) => r.namesClass).length;
  const title = `All ${refs.length} uses found, in ${files} file${files === 1 ? '' : 's'}`;
  return named ? `${title} (the ${named} in files that name its class first)` : title;
}
