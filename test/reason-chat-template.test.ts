import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatTemplate } from '../src/core/models/chat-template.js';
import { DecoderModel, type ChatMessage } from '../src/core/models/index.js';
import { ChatBackend } from '../src/core/reason/chat-backend.js';
import { DecoderBackend, type RenderedPrompt } from '../src/core/reason/decoder-backend.js';
import { GenerativeReasoner } from '../src/core/reason/generative.js';
import { openReasoner } from '../src/core/reason/index.js';
import { READ_PROMPT, READ_PROMPT_COMPACT } from '../src/core/reason/prompts.js';

const FIXTURE = join(__dirname, 'fixtures', 'tiny-reasoner');
const CHATML =
  "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
  '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';
const IM_START = 1;
const IM_END = 2;
const BOS = 0;

const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** The fixture model copied to a temp folder, with `edit` applied to its tokenizer_config.json. */
function modelWith(edit: (cfg: Record<string, unknown>) => void, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-chat-'));
  temps.push(dir);
  cpSync(FIXTURE, dir, { recursive: true });
  const file = join(dir, 'tokenizer_config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A tokenizer whose encoding adds a BOS (<|endoftext|>) of its own, as Llama's does. */
function addBosPostProcessor(dir: string): void {
  const file = join(dir, 'tokenizer.json');
  const tok = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const bos = { SpecialToken: { id: '<|endoftext|>', type_id: 0 } };
  tok.post_processor = {
    type: 'TemplateProcessing',
    single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [BOS], tokens: ['<|endoftext|>'] } },
  };
  writeFileSync(file, JSON.stringify(tok));
}

interface Run {
  prompts: RenderedPrompt[];
  warnings: string[];
  promptTokens: number[];
}

/** Two memory-update steps through the real ONNX session; what was fed and warned. */
async function readTwice(dir: string): Promise<Run> {
  const run: Run = { prompts: [], warnings: [], promptTokens: [] };
  const backend = await DecoderBackend.load(dir, {
    provider: 'cpu',
    threads: 1,
    onPrompt: (p) => run.prompts.push(p),
    onWarning: (m) => run.warnings.push(m),
  });
  const r = new GenerativeReasoner(backend, { memoryTokens: 24 });
  try {
    for (const question of ['where is the port set?', 'which value is last?']) {
      const out = await r.read({ question, memory: 'port 80', block: { blockId: 'b', path: 'a.ts', startLine: 1, endLine: 1, text: '1| const port = 8080;' } });
      run.promptTokens.push(out.promptTokens);
    }
  } finally {
    await r.close();
  }
  return run;
}

const USER = (q: string): string => READ_PROMPT_COMPACT.user({ question: q, memory: 'port 80', code: '--- a.ts:1-1\n1| const port = 8080;' });

describe('chat templates of Hugging Face decoders', () => {
  test('a ChatML template renders the messages; the prompt fed to the session holds each special token once', async () => {
    const dir = modelWith((cfg) => {
      cfg.chat_template = CHATML;
      cfg.bos_token = '<|endoftext|>';
    });
    addBosPostProcessor(dir);
    const run = await readTwice(dir);
    assert.deepEqual(run.warnings, []);
    const p = run.prompts[0]!;
    assert.equal(p.templated, true);
    assert.equal(
      p.text,
      `<|endoftext|><|im_start|>system\n${READ_PROMPT_COMPACT.system}<|im_end|>\n<|im_start|>user\n${USER('where is the port set?')}<|im_end|>\n<|im_start|>assistant\nN:`,
    );
    // One BOS (the template's, none added by the tokenizer), and the markers as single ids.
    assert.equal(p.ids[0], BOS);
    assert.equal(p.ids.filter((id) => id === BOS).length, 1);
    assert.equal(p.ids.filter((id) => id === IM_START).length, 3);
    assert.equal(p.ids.filter((id) => id === IM_END).length, 2);
    assert.deepEqual(run.promptTokens, run.prompts.map((x) => x.ids.length), 'the session was fed exactly these ids');
  });

  test('the template end-of-turn token (<|im_end|>) joins the eos ids, and generation stops at it', async () => {
    const plain = await DecoderModel.load(FIXTURE, { provider: 'cpu', threads: 1 });
    const chat = await DecoderModel.load(modelWith((cfg) => (cfg.chat_template = CHATML)), { provider: 'cpu', threads: 1 });
    // A template whose turns end in "(": a token the fixture model does write.
    const paren = await DecoderModel.load(modelWith((cfg) => (cfg.chat_template = '{% for m in messages %}{{ m.content }}({% endfor %}')), { provider: 'cpu', threads: 1 });
    try {
      assert.deepEqual(plain.config.eosIds, [BOS]);
      assert.equal(plain.chat.template, null);
      assert.equal(chat.chat.endOfTurn, '<|im_end|>');
      assert.deepEqual([...chat.config.eosIds].sort(), [BOS, IM_END]);
      const prompt = 'class Store:\n    def';
      const free = await plain.generate(prompt, { maxNewTokens: 8, temperature: 0 });
      assert.ok(free.text.startsWith(' put('), 'the model writes "(" after " put"');
      const ended = await paren.generate(prompt, { maxNewTokens: 8, temperature: 0 });
      assert.equal(paren.chat.endOfTurn, '(');
      assert.equal(ended.text, ' put');
      assert.equal(ended.finishReason, 'eos');
    } finally {
      await plain.release();
      await chat.release();
      await paren.release();
    }
  });

  test('without a template the prompt is the plain format, with the tokenizer special tokens added once', async () => {
    const dir = modelWith(() => undefined);
    addBosPostProcessor(dir);
    const run = await readTwice(dir);
    assert.deepEqual(run.warnings, []);
    const p = run.prompts[0]!;
    assert.equal(p.templated, false);
    assert.equal(p.text, `${READ_PROMPT_COMPACT.system}\n\n${USER('where is the port set?')}\n\n\nN:`);
    assert.equal(p.ids[0], BOS);
    assert.equal(p.ids.filter((id) => id === BOS).length, 1);
    assert.deepEqual(run.promptTokens, run.prompts.map((x) => x.ids.length));
  });

  test('a template that does not parse is warned about once, naming the file, and the plain format is used', async () => {
    const run = await readTwice(modelWith((cfg) => (cfg.chat_template = '{% for m in messages %}{{ m.content }')));
    assert.equal(run.warnings.length, 1);
    assert.match(run.warnings[0]!, /chat template does not parse: .*tokenizer_config\.json.*plain prompt format/);
    assert.ok(run.prompts.length >= 2 && run.prompts.every((p) => !p.templated && !p.text.includes('<|im_start|>')));
  });

  test('openReasoner passes the warning of a broken template to its caller', async () => {
    const dir = modelWith((cfg) => (cfg.chat_template = '{% for m in messages %}{{ m.content }'));
    const warnings: string[] = [];
    const r = await openReasoner({ backend: 'onnx', model: dir, provider: 'cpu', threads: 1 }, { onWarning: (m) => warnings.push(m) });
    try {
      await r.read({ question: 'where is the port set?', memory: '', block: { blockId: 'b', path: 'a.ts', startLine: 1, endLine: 1, text: '1| const port = 8080;' } });
    } finally {
      await r.close();
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /chat template does not parse/);
  });

  test('a template that fails to render is warned about once and the plain format is used', async () => {
    const tpl = "{% if messages | length > 0 %}{{ raise_exception('Conversation roles must alternate user/assistant') }}{% endif %}";
    const run = await readTwice(modelWith((cfg) => (cfg.chat_template = tpl)));
    assert.equal(run.warnings.length, 1);
    assert.match(run.warnings[0]!, /fails: .*roles must alternate.*plain prompt format/);
    assert.ok(run.prompts.length >= 2 && run.prompts.every((p) => !p.templated));
  });

  test('a template without a system role gets the instructions at the top of the user message', async () => {
    const tpl = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + CHATML;
    const run = await readTwice(modelWith((cfg) => (cfg.chat_template = tpl)));
    assert.deepEqual(run.warnings, []);
    const p = run.prompts[0]!;
    assert.equal(p.templated, true);
    assert.equal(p.text, `<|im_start|>user\n${READ_PROMPT_COMPACT.system}\n\n${USER('where is the port set?')}<|im_end|>\n<|im_start|>assistant\nN:`);
  });
});

describe('where a chat template is read from', () => {
  const msgs: ChatMessage[] = [{ role: 'user', content: 'hi' }];
  const one = (name: string): string => `{% for m in messages %}[${name}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}`;

  test('chat_template.jinja, then chat_template.json, then tokenizer_config.json', () => {
    const all = modelWith((cfg) => (cfg.chat_template = one('config')), {
      'chat_template.jinja': one('jinja'),
      'chat_template.json': JSON.stringify({ chat_template: one('json') }),
    });
    assert.equal(ChatTemplate.load(all).template?.render(msgs), '[jinja]hi>');
    rmSync(join(all, 'chat_template.jinja'));
    assert.equal(ChatTemplate.load(all).template?.render(msgs), '[json]hi>');
    rmSync(join(all, 'chat_template.json'));
    assert.equal(ChatTemplate.load(all).template?.render(msgs, false), '[config]hi');
    assert.deepEqual(ChatTemplate.load(FIXTURE), { template: null });
  });

  test('the list of named templates: "default" is used; a list without one is a problem', () => {
    const named = modelWith((cfg) => (cfg.chat_template = [{ name: 'tool_use', template: one('tools') }, { name: 'default', template: one('default') }]));
    assert.equal(ChatTemplate.load(named).template?.render(msgs), '[default]hi>');
    const none = ChatTemplate.load(modelWith((cfg) => (cfg.chat_template = [{ name: 'rag', template: one('rag') }])));
    assert.equal(none.template, null);
    assert.match(none.problem ?? '', /no template named "default"/);
  });

  test('templates see the special tokens and the variables common templates test', () => {
    const dir = modelWith((cfg) => {
      cfg.bos_token = { content: '<s>' };
      cfg.chat_template = "{{ bos_token }}{{ eos_token }}|{{ tools is defined }}|{{ enable_thinking }}|{{ messages[0].content }}";
    });
    assert.equal(ChatTemplate.load(dir).template?.render(msgs), '<s><|endoftext|>|false|false|hi');
  });
});

test('the OpenAI-compatible backend sends the prompt messages as they are', async () => {
  const bodies: Array<{ messages: ChatMessage[] }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d));
    req.on('end', () => {
      bodies.push(JSON.parse(raw) as { messages: ChatMessage[] });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'Notes:\nport = 8080 (a.ts:1)\nSTATUS: found' } }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const r = new GenerativeReasoner(new ChatBackend({ baseUrl: url, model: 'm', contextTokens: 4096, retries: 0 }), { memoryTokens: 256 });
  try {
    const out = await r.read({ question: 'which port?', memory: '', block: { blockId: 'b', path: 'a.ts', startLine: 1, endLine: 1, text: '1| const port = 8080;' } });
    assert.equal(out.memory, 'port = 8080 (a.ts:1)');
    assert.equal(out.hasAnswer, true);
    const sent = bodies[0]!.messages;
    assert.deepEqual(sent, [
      { role: 'system', content: READ_PROMPT.system },
      {
        role: 'user',
        content: `${READ_PROMPT.user({ question: 'which port?', memory: '', code: '--- a.ts:1-1\n1| const port = 8080;' })}\nStart your reply with "Notes:".`,
      },
    ]);
    assert.ok(!sent.some((m) => m.content.includes('<|im_start|>')), 'no template is applied on our side');
  } finally {
    await r.close();
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
  }
});
