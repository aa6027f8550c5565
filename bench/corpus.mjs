// Real third-party code for benchmarks and the demo: pinned npm packages,
// fetched with `npm pack` into bench/.work/corpus/<set>/<package> (cached).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const WORK = join(HERE, '.work');

/** Named sets of pinned packages. `10m` is about ten million tokens of source. */
export const SETS = {
  demo: ['express@4.21.2', 'body-parser@1.20.3', 'router@2.2.0'],
  medium: ['eslint@9.39.1', 'webpack@5.101.3', 'rxjs@7.8.2'],
  '10m': [
    'eslint@9.39.1', 'webpack@5.101.3', 'rxjs@7.8.2', 'typescript@5.9.3', 'three@0.180.0', 'lodash@4.17.21',
    '@babel/core@7.28.4', '@babel/parser@7.28.4', '@babel/traverse@7.28.4', '@babel/types@7.28.4', '@babel/generator@7.28.3',
    'prettier@3.6.2', 'sequelize@6.37.7', 'typeorm@0.3.27', 'vue@3.5.22', '@vue/compiler-core@3.5.22', '@vue/runtime-core@3.5.22',
    'react-dom@19.1.1', 'mongoose@8.18.2', 'ajv@8.17.1', 'moment@2.30.1', 'date-fns@4.1.0', 'rollup@4.52.3', 'terser@5.44.0',
    'less@4.4.1', 'sass@1.93.2', 'postcss@8.5.6', 'jest-circus@30.2.0', 'mocha@11.7.4', 'chart.js@4.5.0', 'd3@7.9.0',
    'pdfjs-dist@5.4.149', 'monaco-editor@0.53.0', '@angular/core@20.3.3', '@angular/compiler@20.3.3', 'aws-sdk@2.1692.0',
  ],
};

/** Fetches (once) and returns the folder holding every package of the set. */
export function corpus(set) {
  const specs = SETS[set];
  if (!specs) throw new Error(`unknown corpus set '${set}' (one of ${Object.keys(SETS).join(', ')})`);
  const root = join(WORK, 'corpus', set);
  for (const spec of specs) {
    const dir = join(root, spec.replace(/[@/]/g, '_').replace(/^_/, ''));
    if (existsSync(join(dir, '.done'))) continue;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const name = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['xzf', join(dir, name), '-C', dir, '--strip-components=1']);
    rmSync(join(dir, name));
    execFileSync('touch', [join(dir, '.done')]);
    process.stderr.write(`fetched ${spec}\n`);
  }
  return root;
}

export function sourceBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) total += sourceBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}
