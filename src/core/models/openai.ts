// A reasoner behind an OpenAI-compatible chat server (Ollama, llama.cpp server,
// vLLM, LM Studio): streamed chat completions over SSE, timeouts, retries with
// backoff, and one clear message per failure. The API key is never logged.
import { CancelledError, UserError } from '../types.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface OpenAIBackendOptions {
  /** e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8080/v1 (llama.cpp). */
  baseUrl: string;
  model: string;
  /** Default: ENGRAM_API_KEY, then OPENAI_API_KEY from `env`. */
  apiKey?: string;
  env?: NodeJS.ProcessEnv;
  /** Only loopback URLs unless this is set (the prompt carries the user's code). */
  allowRemote?: boolean;
  /** No byte from the server for this long fails the request (default 120 s). */
  timeoutMs?: number;
  /** Retries on connection errors, 429 and 5xx before any text arrived (default 3). */
  retries?: number;
  /** First backoff delay; doubles each retry (default 500 ms). */
  retryBaseMs?: number;
}

export interface ChatOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  signal?: AbortSignal;
}

export interface ChatResult {
  text: string;
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number } | null;
  attempts: number;
}

export type BackendErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'unauthorized'
  | 'unknown-model'
  | 'context-too-long'
  | 'bad-request'
  | 'rate-limited'
  | 'server'
  | 'bad-response';

export class BackendError extends Error {
  override readonly name = 'BackendError';
  /** From the server's Retry-After header. */
  retryAfterMs?: number;
  constructor(
    readonly kind: BackendErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopbackUrl(url: string): boolean {
  try {
    return LOOPBACK.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

export class OpenAIChatBackend {
  readonly baseUrl: string;
  readonly model: string;
  readonly #apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;

  constructor(opts: OpenAIBackendOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new UserError(`invalid reasoner server URL: ${opts.baseUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`reasoner server URL must be http(s): ${opts.baseUrl}`);
    if (!opts.allowRemote && !isLoopbackUrl(opts.baseUrl)) {
      throw new UserError(
        `reasoner server ${url.origin} is not on this machine; prompts contain your code, so remote servers need the explicit allowRemote setting`,
      );
    }
    if (!opts.model) throw new UserError('no reasoner model name set for the server backend');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.model = opts.model;
    const env = opts.env ?? process.env;
    this.#apiKey = opts.apiKey || env.ENGRAM_API_KEY || env.OPENAI_API_KEY || undefined;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.retries = opts.retries ?? 3;
    this.retryBaseMs = opts.retryBaseMs ?? 500;
  }

  /** Collects a streamed completion; `onText` sees each piece as it arrives. */
  async chat(messages: ChatMessage[], opts: ChatOptions = {}, onText?: (text: string) => void): Promise<ChatResult> {
    const it = this.stream(messages, opts);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
      onText?.(r.value);
    }
  }

  /** Streams the completion's text; returns the whole result. */
  async *stream(messages: ChatMessage[], opts: ChatOptions = {}): AsyncGenerator<string, ChatResult> {
    const body: Record<string, unknown> = {
      model: this.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    };
    if (opts.maxTokens !== undefined) body.max_tokens = opts.maxTokens;
    if (opts.temperature !== undefined) body.temperature = opts.temperature;
    if (opts.topP !== undefined) body.top_p = opts.topP;
    if (opts.stop?.length) body.stop = opts.stop;
    if (opts.seed !== undefined) body.seed = opts.seed;

    for (let attempt = 1; ; attempt++) {
      let gotText = false;
      try {
        let text = '';
        let finishReason: string | null = null;
        let usage: ChatResult['usage'] = null;
        for await (const event of this.request('/chat/completions', body, opts.signal)) {
          const choice = event.choices?.[0];
          const piece = choice?.delta?.content ?? '';
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (event.usage) usage = { promptTokens: event.usage.prompt_tokens ?? 0, completionTokens: event.usage.completion_tokens ?? 0 };
          if (piece) {
            gotText = true;
            text += piece;
            yield piece;
          }
        }
        return { text, finishReason, usage, attempts: attempt };
      } catch (err) {
        // Retrying after text was streamed would repeat it; fail instead.
        if (!(err instanceof BackendError) || gotText || attempt > this.retries || !retryable(err)) throw err;
        await sleep(err.retryAfterMs ?? this.retryBaseMs * 2 ** (attempt - 1), opts.signal);
      }
    }
  }

  /** Model names the server offers (GET /models). */
  async listModels(signal?: AbortSignal): Promise<string[]> {
    const res = await this.fetch('/models', undefined, signal);
    const json = (await res.json().catch(() => null)) as { data?: Array<{ id?: unknown }> } | null;
    return (json?.data ?? []).map((m) => String(m.id));
  }

  private async fetch(path: string, body: unknown, signal: AbortSignal | undefined, ctl?: AbortController): Promise<Response> {
    if (signal?.aborted) throw new CancelledError('request cancelled');
    const controller = ctl ?? new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new TimeoutMarker()), this.timeoutMs);
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { accept: body ? 'text/event-stream' : 'application/json' };
    if (body) headers['content-type'] = 'application/json';
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    try {
      const res = await fetch(url, {
        method: body ? 'POST' : 'GET',
        headers,
        signal: controller.signal,
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw await this.httpError(res);
      return res;
    } catch (err) {
      throw this.mapError(err, controller, signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async *request(path: string, body: unknown, signal: AbortSignal | undefined): AsyncGenerator<StreamEvent> {
    const controller = new AbortController();
    const res = await this.fetch(path, body, signal, controller);
    if (!res.body) throw new BackendError('bad-response', `${this.baseUrl} sent an empty response`);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer = setTimeout(() => controller.abort(new TimeoutMarker()), this.timeoutMs);
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new TimeoutMarker()), this.timeoutMs);
        buf += decoder.decode(bytes, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') return;
          let event: StreamEvent;
          try {
            event = JSON.parse(data) as StreamEvent;
          } catch {
            throw new BackendError('bad-response', `${this.baseUrl} sent a stream line that is not JSON: ${data.slice(0, 80)}`);
          }
          if (event.error) throw this.classify(400, errorText(event.error));
          yield event;
        }
      }
    } catch (err) {
      throw this.mapError(err, controller, signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private mapError(err: unknown, controller: AbortController, signal: AbortSignal | undefined): Error {
    if (err instanceof BackendError || err instanceof CancelledError) return err;
    if (signal?.aborted) return new CancelledError('request cancelled');
    if (controller.signal.reason instanceof TimeoutMarker) {
      return new BackendError('timeout', `${this.baseUrl} did not answer within ${Math.round(this.timeoutMs / 1000)} s (model ${this.model})`);
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code ?? '';
    return new BackendError(
      'unreachable',
      `cannot reach the reasoner server at ${this.baseUrl}${code ? ` (${code})` : ''}: is it running? ${this.redact(cause?.message ?? (err as Error).message ?? '')}`.trim(),
    );
  }

  private async httpError(res: Response): Promise<BackendError> {
    const raw = await res.text().catch(() => '');
    let msg = raw;
    try {
      msg = errorText((JSON.parse(raw) as { error?: unknown }).error ?? raw);
    } catch {
      /* plain-text body */
    }
    const e = this.classify(res.status, this.redact(msg).slice(0, 300));
    const ra = Number(res.headers.get('retry-after'));
    if (Number.isFinite(ra) && ra >= 0) e.retryAfterMs = Math.min(ra * 1000, 30_000);
    return e;
  }

  private classify(status: number, msg: string): BackendError {
    const where = `${this.baseUrl} (model ${this.model})`;
    if (status === 401 || status === 403) {
      return new BackendError('unauthorized', `${where} rejected the API key (${status}): set ENGRAM_API_KEY or the apiKey setting. ${msg}`.trim(), status);
    }
    if (/context|too long|maximum.*tokens|too many tokens|exceeds/i.test(msg) && (status === 400 || status === 413 || status === 422)) {
      return new BackendError('context-too-long', `the prompt is too long for ${this.model} on ${this.baseUrl} (${status}): ${msg}`, status);
    }
    if (status === 404) {
      return new BackendError(
        'unknown-model',
        `model "${this.model}" is not available on ${this.baseUrl} (404); check the model name (for Ollama: ollama pull ${this.model}). ${msg}`.trim(),
        status,
      );
    }
    if (status === 429) return new BackendError('rate-limited', `${where} is rate limiting requests (429). ${msg}`.trim(), status);
    if (status >= 500) return new BackendError('server', `${where} failed with ${status}. ${msg}`.trim(), status);
    return new BackendError('bad-request', `${where} refused the request (${status}): ${msg}`, status);
  }

  private redact(s: string): string {
    return this.#apiKey ? s.split(this.#apiKey).join('***') : s;
  }
}

interface StreamEvent {
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  error?: unknown;
}

class TimeoutMarker extends Error {}

function retryable(e: BackendError): boolean {
  return e.kind === 'unreachable' || e.kind === 'rate-limited' || e.kind === 'server' || e.kind === 'timeout';
}

function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  return JSON.stringify(e);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError('request cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new CancelledError('request cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
