import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pullModel, type PullProgress } from '../src/core/models/download.js';
import { DecoderModel } from '../src/core/models/decoder.js';
import { sha256Hex } from '../src/core/hash.js';
import { UserError } from '../src/core/types.js';
import { FILES, FIXTURE, startHub, type Hub } from './models-hub.js';


function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('model download from a hub layout on 127.0.0.1', () => {
  let hub: Hub;
  let cache: string;
  before(async () => {
    hub = await startHub();
    cache = mkdtempSync(join(tmpdir(), 'engram-pull-'));
  });
  after(() => {
    rmSync(cache, { recursive: true, force: true });
    hub.server.closeAllConnections();
    hub.server.close();
  });

  test('a dropped connection resumes with a Range request; files verified; the model loads', async () => {
    hub.drop.set('onnx/model.onnx', 1);
    hub.ranges.length = 0;
    const seen: PullProgress[] = [];
    const r = await pullModel('acme/tiny', { baseUrl: hub.url, cacheDir: join(cache, 'a'), onProgress: (p) => seen.push(p) });
    assert.equal(r.commit, 'c0ffee');
    assert.equal(r.dir, join(cache, 'a', 'acme--tiny'));
    assert.ok(hub.ranges.some((x) => x.startsWith('onnx/model.onnx:') && Number(x.split(':')[1]) > 0), hub.ranges.join());
    for (const f of FILES) assert.equal(sha256Hex(readFileSync(join(r.dir, f))), sha256Hex(readFileSync(join(FIXTURE, f))), f);
    const last = seen[seen.length - 1]!;
    assert.equal(last.bytesDone, last.bytesTotal);
    assert.deepEqual(walk(join(cache, 'a')).map((p) => relative(r.dir, p)).sort(), [...FILES, '.engram-source.json'].sort());
    const m = await DecoderModel.load(r.dir, { provider: 'cpu', threads: 1 });
    assert.equal((await m.generate('def add(a, b):', { maxNewTokens: 4 })).tokenIds.length, 4);
    await m.release();
  });

  test('an interrupted pull leaves nothing installed and resumes on the next run', async () => {
    const dir = join(cache, 'b');
    hub.drop.set('onnx/model.onnx', 1);
    hub.ranges.length = 0;
    await assert.rejects(pullModel('acme/tiny', { baseUrl: hub.url, cacheDir: dir, retries: 0 }), /run the pull again to resume/);
    assert.ok(!existsSync(join(dir, 'acme--tiny')));
    const partial = walk(dir).find((p) => p.endsWith('model.onnx.partial'));
    assert.ok(partial && statSync(partial).size > 0);
    await pullModel('acme/tiny', { baseUrl: hub.url, cacheDir: dir, retries: 0 });
    assert.ok(hub.ranges.some((x) => x.startsWith('onnx/model.onnx:')));
    assert.equal(sha256Hex(readFileSync(join(dir, 'acme--tiny', 'onnx', 'model.onnx'))), sha256Hex(readFileSync(join(FIXTURE, 'onnx', 'model.onnx'))));
    assert.deepEqual(readdirSync(join(dir, '.partial')), []);
  });

  test('a checksum mismatch is rejected and nothing half-written stays in the cache', async () => {
    const dir = join(cache, 'c');
    await assert.rejects(pullModel('acme/bad', { baseUrl: hub.url, cacheDir: dir }), (e: Error) => /checksum mismatch for onnx\/model\.onnx/.test(e.message));
    assert.deepEqual(walk(dir), []);
  });

  test('bad repo ids and unknown repos are user errors', async () => {
    await assert.rejects(pullModel('../etc', { baseUrl: hub.url, cacheDir: join(cache, 'd') }), UserError);
    await assert.rejects(pullModel('acme/nothere', { baseUrl: hub.url, cacheDir: join(cache, 'd') }), (e: Error) => e instanceof UserError && /not found/.test(e.message));
    await assert.rejects(pullModel('acme/tiny', { baseUrl: hub.url, cacheDir: join(cache, 'd'), include: ['*.bin'] }), UserError);
  });
});
