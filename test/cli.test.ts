import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { engram, sampleFiles, tempRepo } from './support/repo.js';

test('index, status, search and inspect a real folder through the CLI', () => {
  const { dir, cleanup } = tempRepo(sampleFiles());
  try {
    const store = join(dir, '.store-out');
    const common = ['--repo', dir, '--store', store];
    const idx = engram(['index', '--json', ...common, '--exclude', 'README.md']);
    assert.equal(idx.code, 0, idx.stderr);
    const report = JSON.parse(idx.stdout);
    assert.equal(report.filesIndexed, 3, 'the store inside the repo and the excluded README are not indexed');

    const again = engram(['index', ...common, '--exclude', 'README.md']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /up to date: no file changed/, 'a second run says nothing changed, not "indexed 0/0 files"');

    const status = JSON.parse(engram(['status', '--json', ...common]).stdout);
    assert.equal(status.files, 3, 'files counts indexed files; the .env is under skipped');
    assert.equal(status.skipped.secret, 1);
    assert.ok(status.blocks >= 3);
    assert.ok(status.tokens > 0 && status.storeBytes > 0);
    assert.equal(typeof status.updatedAt, 'string');
    assert.match(status.compressor, /^engram-compressor@/, 'the shipped learned compressor by default');

    const search = engram(['search', '--json', ...common, 'retry base delay']);
    assert.equal(search.code, 0, search.stderr);
    const { results } = JSON.parse(search.stdout);
    assert.ok(results.length > 0);
    assert.ok(results.slice(0, 2).some((r: { path: string }) => r.path === 'src/net/config.ts'), JSON.stringify(results));
    assert.ok(!JSON.stringify(results).includes('.env'), 'secrets never become blocks');

    const byLine = JSON.parse(engram(['inspect', '--json', ...common, 'app/server.py:5']).stdout);
    assert.equal(byLine.path, 'app/server.py');
    assert.ok(byLine.raw.includes('def start_server'));
    assert.ok(byLine.compressed.includes('start_server'));
    assert.equal(byLine.stale, false);
    const byId = JSON.parse(engram(['inspect', '--json', ...common, byLine.id]).stdout);
    assert.equal(byId.id, byLine.id);
  } finally {
    cleanup();
  }
});

test('every command prints its own options for --help and help COMMAND, without touching a store', () => {
  const { dir, cleanup } = tempRepo({ 'a.ts': 'export const a = 1;\n' });
  try {
    const store = join(dir, '..', `${dir.split('/').pop()}-help-store`);
    const cases: Array<[string[], RegExp]> = [
      [['eval', '--help'], /--qa FILE\.jsonl[\s\S]*--limit N[\s\S]*--mode gated\|memagent\|full\|rag/],
      [['help', 'ask'], /usage: engram ask[\s\S]*--memory-tokens N/],
      [['search', '-h', '--repo', dir, '--store', store], /usage: engram search[\s\S]*--k N/],
      [['models', '--help'], /engram models pull REPO_ID/],
      [['index', '--help'], /--quiet[\s\S]*options \(every command\)/],
    ];
    for (const [args, usage] of cases) {
      const r = engram(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, usage);
    }
    assert.ok(!existsSync(store), 'help opens no store');
    const after = engram(['ask', '--repo', dir, '--store', store, '--', '--help']);
    assert.ok(!after.stdout.includes('usage:'), 'after -- a --help is the question, not a request for help');
    assert.match(after.stderr, /no indexed files/);
    const unknown = engram(['help', 'frobnicate']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  } finally {
    cleanup();
  }
});

test('bad input gets one clear line and exit code 1', () => {
  const { dir, cleanup } = tempRepo({ 'a.ts': 'export const a = 1;\n' });
  try {
    const store = ['--store', join(dir, '..', `${dir.split('/').pop()}-store`)];
    const cases: Array<[string[], RegExp]> = [
      [['index', '--repo', join(dir, 'missing'), ...store], /not a folder/],
      [['search', '--repo', dir, ...store, '   '], /usage: engram search/],
      [['inspect', '--repo', dir, ...store, 'nope:3'], /no block covers/],
      [['index', '--repo', dir, ...store, '--bogus'], /bogus/],
      [['frobnicate'], /unknown command/],
      [['index', '--repo', dir, ...store, '--max-file-bytes', 'lots'], /max-file-bytes/],
    ];
    for (const [args, message] of cases) {
      const r = engram(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!r.stderr.includes('    at '), 'no stack trace without --verbose');
    }
  } finally {
    cleanup();
  }
});
