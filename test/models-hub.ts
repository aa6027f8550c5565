// A hub in the Hugging Face URL layout on 127.0.0.1, serving the fixture model (test helper).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../src/core/hash.js';

export const FIXTURE = join(__dirname, 'fixtures', 'tiny-reasoner');
export const FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];

export interface Hub {
  server: Server;
  url: string;
  ranges: string[];
  /** Paths whose next N responses die halfway. */
  drop: Map<string, number>;
}
export function startHub(): Promise<Hub> {
  const hub = { ranges: [] as string[], drop: new Map<string, number>() } as unknown as Hub;
  hub.server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const api = url.pathname.match(/^\/api\/models\/(acme\/(?:tiny|bad))\/revision\/main$/);
    if (api) {
      const siblings = FILES.map((f) => {
        const bytes = readFileSync(join(FIXTURE, f));
        const lfs = f.endsWith('.onnx') ? { sha256: api[1] === 'acme/bad' ? 'ab'.repeat(32) : sha256Hex(bytes), size: bytes.length } : undefined;
        return { rfilename: f, size: bytes.length, ...(lfs ? { lfs } : {}) };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: api[1], sha: 'c0ffee', siblings }));
      return;
    }
    const file = url.pathname.match(/^\/acme\/(?:tiny|bad)\/resolve\/main\/(.+)$/);
    if (!file || !FILES.includes(decodeURIComponent(file[1]!))) {
      res.writeHead(404).end('not found');
      return;
    }
    const path = decodeURIComponent(file[1]!);
    const bytes = readFileSync(join(FIXTURE, path));
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    let body = bytes;
    if (range) {
      hub.ranges.push(`${path}:${range[1]}`);
      body = bytes.subarray(Number(range[1]));
      res.writeHead(206, { 'content-length': body.length, 'content-range': `bytes ${range[1]}-${bytes.length - 1}/${bytes.length}` });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    const drops = hub.drop.get(path) ?? 0;
    if (drops > 0) {
      hub.drop.set(path, drops - 1);
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
      return;
    }
    res.end(body);
  });
  return new Promise((resolve) => hub.server.listen(0, '127.0.0.1', () => {
    hub.url = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`;
    resolve(hub);
  }));
}

