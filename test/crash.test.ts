import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { engram, engramChild, tempRepo } from './support/repo.js';
import { storeSnapshot } from './support/snapshot.js';

/** Real third-party code: TypeScript sources that ship inside installed packages. Returns the copied paths. */
function copyRealCode(into: string, maxFiles: number): string[] {
  const from = resolve(__dirname, '..', 'node_modules', 'apache-arrow', 'src');
  const copied: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (copied.length >= maxFiles) return;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts')) {
        const to = join(into, full.slice(from.length + 1));
        mkdirSync(resolve(to, '..'), { recursive: true });
        cpSync(full, to);
        copied.push(to);
      }
    }
  };
  walk(from);
  return copied;
}

test('index killed with SIGKILL at random points resumes to exactly a clean index', async () => {
  const { dir, cleanup } = tempRepo();
  try {
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    const paths = copyRealCode(repo, 250);
    const copied = paths.length;
    assert.ok(copied >= 100, `expected real sources to copy, got ${copied}`);
    const original = new Map(paths.map((p) => [p, readFileSync(p, 'utf8')]));
    const refStore = join(dir, 'ref');
    const store = join(dir, 'store');
    const refStarted = Date.now();
    assert.equal(engram(['index', '--quiet', '--repo', repo, '--store', refStore]).code, 0);
    const fullRunMs = Date.now() - refStarted;
    const reference = await storeSnapshot(refStore);
    assert.ok(reference.blocks.length > 100);

    // Seeded so a failure can be replayed.
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let killedMidway = 0;
    for (let i = 0; killedMidway < 10; i++) {
      assert.ok(i < 20, `only ${killedMidway} of ${i} kills landed mid-index`);
      // Every run finds work: the files flip between their original text and an edited one.
      for (const [p, text] of original) {
        if (i % 2 === 1) appendFileSync(p, `\n// edited in round ${i}\n`);
        else writeFileSync(p, text);
      }
      const child = engramChild(['index', '--repo', repo, '--store', store]);
      const delay = 100 + Math.floor(random() * fullRunMs * 0.8);
      let killed = false;
      const timer = setTimeout(() => {
        killed = child.kill('SIGKILL');
      }, delay);
      const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
      clearTimeout(timer);
      if (killed) killedMidway++;
      else assert.equal(code, 0, 'an index that was not killed finishes cleanly');
      const status = engram(['status', '--json', '--repo', repo, '--store', store]);
      assert.equal(status.code, 0, `status after kill ${i}: ${status.stderr}`);
      const s = JSON.parse(status.stdout);
      assert.ok(s.files <= copied && s.blocks >= 0, JSON.stringify(s));
      const snap = await storeSnapshot(store);
      // Every block belongs to a finished file (recover() removed the rest).
      const finished = new Set(snap.files.map((f) => f.split(' ')[0]));
      for (const b of snap.blocks) assert.ok(finished.has(b.split(' ')[1]!.split(':')[0]!), `orphan block ${b}`);
    }
    for (const [p, text] of original) writeFileSync(p, text);
    const final = engram(['index', '--quiet', '--repo', repo, '--store', store]);
    assert.equal(final.code, 0, final.stderr);
    assert.deepEqual(await storeSnapshot(store), reference);
  } finally {
    cleanup();
  }
});
