import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../src/core/engine.js';
import { eventually, git, sampleFiles, tempRepo, writeFiles } from './support/repo.js';
import { storeSnapshot } from './support/snapshot.js';

function moduleSource(i: number, variant: string): string {
  return `/** Module ${i} (${variant}). */\nexport function handler${i}${variant}(input: number): number {\n  return input * ${i};\n}\n\nexport const LIMIT_${i} = ${i * 10};\n`;
}

/** The store converges to what a clean index of the same tree gives. */
async function assertConverged(repo: string, store: string, scratch: string): Promise<void> {
  const fresh = join(scratch, `fresh-${Date.now()}`);
  const engine = await Engine.open({ repo, store: fresh });
  await engine.index();
  await engine.close();
  assert.deepEqual(await storeSnapshot(store), await storeSnapshot(fresh));
}

test('the watcher follows edits, creates, renames, deletes and a git checkout of many files', async () => {
  const { dir, cleanup } = tempRepo();
  const repo = join(dir, 'repo');
  const store = join(dir, 'store');
  const files: Record<string, string> = { ...sampleFiles() };
  for (let i = 0; i < 300; i++) files[`lib/m${i}.ts`] = moduleSource(i, 'A');
  writeFiles(repo, files);
  git(repo, 'init', '-q');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'A');
  // Branch b: 150 files changed, 60 deleted, 80 added.
  git(repo, 'checkout', '-qb', 'b');
  for (let i = 0; i < 150; i++) writeFileSync(join(repo, `lib/m${i}.ts`), moduleSource(i, 'B'));
  for (let i = 150; i < 210; i++) rmSync(join(repo, `lib/m${i}.ts`));
  for (let i = 0; i < 80; i++) writeFiles(repo, { [`lib/extra/e${i}.ts`]: `${moduleSource(1000 + i, 'B')}export const zebracorn${i} = 'zebracorn';\n` });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'B');
  git(repo, 'checkout', '-q', 'master');

  const engine = await Engine.open({ repo, store });
  const errors: unknown[] = [];
  try {
    await engine.index();
    const watcher = await engine.watch({ debounceMs: 50, onError: (e) => errors.push(e) });
    try {
      appendFileSync(join(repo, 'src/net/config.ts'), 'export const TIMEOUT_MS = 9000;\n');
      writeFileSync(join(repo, 'src/net/new.ts'), 'export function freshlyCreated(): string { return "hi"; }\n');
      const finds = (query: string, path: string) => async () => (await engine.search(query, 3)).some((h) => h.path === path);
      await eventually(finds('TIMEOUT_MS', 'src/net/config.ts'), 'an edit is searchable');
      await eventually(finds('freshlyCreated', 'src/net/new.ts'), 'a new file is searchable');

      renameSync(join(repo, 'src/net/new.ts'), join(repo, 'src/net/renamed.ts'));
      rmSync(join(repo, 'app/server.py'));
      await eventually(finds('freshlyCreated', 'src/net/renamed.ts'), 'a renamed file is searchable');
      await eventually(async () => !(await finds('DEFAULT_PORT', 'app/server.py')()), 'a deleted file is gone');
      const hits = await engine.search('freshlyCreated', 5);
      assert.ok(hits.some((h) => h.path === 'src/net/renamed.ts'));
      assert.ok(!hits.some((h) => h.path === 'src/net/new.ts' || h.path === 'app/server.py'));

      // Files in ignored folders never reach the store.
      writeFiles(repo, { 'node_modules/pkg/late.js': 'export const lateIgnored = 1;\n' });
      git(repo, 'checkout', '-q', 'b');
      await eventually(async () => (await engine.search('zebracorn', 3)).some((h) => h.path.startsWith('lib/extra/')), 'the checkout is being indexed');
      await watcher.idle();
    } finally {
      await watcher.close();
    }
  } finally {
    await engine.close();
  }
  assert.deepEqual(errors, []);
  await assertConverged(repo, store, dir);
  cleanup();
});
