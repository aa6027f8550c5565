// Bundles the CLI, the VS Code extension host side and the webviews with esbuild.
// Native runtimes stay external: they ship per platform and load their own binaries;
// `vscode` is provided by the editor.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const external = ['@lancedb/lancedb', 'apache-arrow', 'onnxruntime-node', '@huggingface/transformers', 'web-tree-sitter', 'vscode'];

await build({
  entryPoints: { cli: 'src/cli/main.ts', extension: 'src/extension/extension.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
});

// The webviews (browser side) and their static files, all under dist/webview: the only
// folder the webviews may load from (localResourceRoots).
await build({
  entryPoints: { sidebar: 'webview/sidebar/main.ts', inspector: 'webview/inspector/main.ts' },
  outdir: 'dist/webview',
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  minify: true,
  sourcemap: false,
  tsconfig: 'webview/tsconfig.json',
  logLevel: 'warning',
});
mkdirSync('dist/webview', { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) copyFileSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/webview/${f}`);
for (const f of ['common.css', 'sidebar.css', 'inspector.css']) copyFileSync(`webview/styles/${f}`, `dist/webview/${f}`);
