// Bundles the CLI (and later the extension and webview) with esbuild.
// Native runtimes stay external: they ship per platform and load their own binaries.
import { build } from 'esbuild';

const external = ['@lancedb/lancedb', 'apache-arrow', 'onnxruntime-node', '@huggingface/transformers', 'web-tree-sitter', 'vscode'];

await build({
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
});
