import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BackendError, OpenAIChatBackend, isLoopbackUrl } from '../src/core/models/openai.js';
import { CancelledError, UserError } from '../src/core/types.js';

const KEY = 'sk-test-secret-123';

// A small OpenAI-compatible server; the model name picks the behaviour.
function startServer(): Promise<{ server: Server; url: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d));
    req.on('end', () => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'ok' }, { id: 'flaky' }] }));
        return;
      }
      const body = JSON.parse(raw) as { model: string; messages: Array<{ content: string }>; stream: boolean };
      const n = (hits.get(body.model) ?? 0) + 1;
      hits.set(body.model, n);
      const json = (status: number, obj: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(obj));
      };
      if (req.headers.authorization !== `Bearer ${KEY}`) return json(401, { error: { message: `invalid key ${String(req.headers.authorization)}` } });
      const stream = (pieces: string[], gapMs = 0): void => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let i = 0;
        const next = (): void => {
          if (i < pieces.length) {
            res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: pieces[i++] }, finish_reason: null }] })}\n\n`);
            setTimeout(next, gapMs);
            return;
          }
          res.write(`data: ${JSON.stringify({ choices: [{ delta: {}, finish_reason: 'stop' }] })}\n\n`);
          res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: pieces.length } })}\n\n`);
          res.end('data: [DONE]\n\n');
        };
        next();
      };
      switch (body.model) {
        case 'ok':
          return stream(['Hello', ', ', 'world', '!']);
        case 'flaky':
          return n < 3 ? json(503, { error: { message: 'loading' } }) : stream(['recovered']);
        case 'limited':
          return n < 2 ? json(429, { error: { message: 'slow down' } }, { 'retry-after': '0' }) : stream(['ok']);
        case 'broken':
          return json(500, { error: { message: 'boom' } });
        case 'long':
          return json(400, { error: { message: "This model's maximum context length is 4096 tokens. However, you requested 9000 tokens." } });
        case 'slow':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'a' } }] })}\n\n`);
          return; // never finishes
        case 'drip':
          return stream(['a', 'b', 'c', 'd', 'e', 'f'], 30);
        default:
          return json(404, { error: { message: `model '${body.model}' not found` } });
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ server, url: `http://127.0.0.1:${port}/v1`, hits });
  }));
}

describe('OpenAI-compatible backend against a real local server', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    srv = await startServer();
  });
  after(() => new Promise<void>((r) => {
    srv.server.closeAllConnections();
    srv.server.close(() => r());
  }));
  const backend = (model: string, extra: Partial<ConstructorParameters<typeof OpenAIChatBackend>[0]> = {}): OpenAIChatBackend =>
    new OpenAIChatBackend({ baseUrl: srv.url, model, env: { ENGRAM_API_KEY: KEY }, retryBaseMs: 5, ...extra });
  const msgs = [{ role: 'user' as const, content: 'hi' }];

  test('streams text pieces and usage', async () => {
    const pieces: string[] = [];
    const r = await backend('ok').chat(msgs, { maxTokens: 10 }, (t) => pieces.push(t));
    assert.deepEqual(pieces, ['Hello', ', ', 'world', '!']);
    assert.equal(r.text, 'Hello, world!');
    assert.equal(r.finishReason, 'stop');
    assert.deepEqual(r.usage, { promptTokens: 7, completionTokens: 4 });
    assert.deepEqual(await backend('ok').listModels(), ['ok', 'flaky']);
  });

  test('retries 5xx and 429 with backoff, then succeeds', async () => {
    const r = await backend('flaky').chat(msgs);
    assert.equal(r.text, 'recovered');
    assert.equal(r.attempts, 3);
    const r2 = await backend('limited').chat(msgs);
    assert.equal(r2.attempts, 2);
  });

  test('gives up after the retries with a clear message', async () => {
    await assert.rejects(backend('broken', { retries: 2 }).chat(msgs), (e: BackendError) => e.kind === 'server' && e.status === 500 && /boom/.test(e.message));
    assert.equal(srv.hits.get('broken'), 3);
  });

  test('401 names the key setting and never shows the key', async () => {
    const b = new OpenAIChatBackend({ baseUrl: srv.url, model: 'ok', apiKey: 'sk-wrong-key-999', retryBaseMs: 5 });
    await assert.rejects(b.chat(msgs), (e: BackendError) => {
      assert.equal(e.kind, 'unauthorized');
      assert.match(e.message, /ENGRAM_API_KEY/);
      assert.ok(!e.message.includes('sk-wrong-key-999'), e.message);
      return true;
    });
    // The key must not leak through inspection of the backend either.
    assert.ok(!JSON.stringify(b).includes('sk-wrong-key-999'));
  });

  test('unknown model and context too long', async () => {
    await assert.rejects(backend('nosuch').chat(msgs), (e: BackendError) => e.kind === 'unknown-model' && e.message.includes('"nosuch"'));
    await assert.rejects(backend('long').chat(msgs), (e: BackendError) => e.kind === 'context-too-long' && /too long/.test(e.message));
    assert.equal(srv.hits.get('long'), 1); // not retried
  });

  test('unreachable server and timeouts', async () => {
    const closed = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => r(port));
      });
    });
    const down = new OpenAIChatBackend({ baseUrl: `http://127.0.0.1:${closed}/v1`, model: 'ok', retries: 1, retryBaseMs: 5 });
    await assert.rejects(down.chat(msgs), (e: BackendError) => e.kind === 'unreachable' && /ECONNREFUSED/.test(e.message) && e.message.includes(String(closed)));
    await assert.rejects(backend('slow', { timeoutMs: 150, retries: 0 }).chat(msgs), (e: BackendError) => e.kind === 'timeout');
  });

  test('cancellation in the middle of a stream', async () => {
    const ac = new AbortController();
    const got: string[] = [];
    await assert.rejects(
      backend('drip').chat(msgs, { signal: ac.signal }, (t) => {
        got.push(t);
        if (got.length === 2) ac.abort();
      }),
      CancelledError,
    );
    assert.deepEqual(got, ['a', 'b']);
  });

  test('remote URLs need allowRemote; loopback is the default', () => {
    assert.throws(() => new OpenAIChatBackend({ baseUrl: 'https://api.example.com/v1', model: 'm' }), UserError);
    assert.ok(new OpenAIChatBackend({ baseUrl: 'https://api.example.com/v1', model: 'm', allowRemote: true }));
    assert.ok(isLoopbackUrl('http://localhost:11434/v1') && isLoopbackUrl('http://[::1]:8080') && isLoopbackUrl('http://127.0.0.1'));
    assert.ok(!isLoopbackUrl('http://10.0.0.2:8000'));
    assert.throws(() => new OpenAIChatBackend({ baseUrl: 'not a url', model: 'm' }), UserError);
  });
});
