// The Engram sidebar: status, question box with history, streamed answer with citation
// links, feedback, and the working-memory trace as a timeline.
import '../shared/nonce.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import type { HostToSidebar, SidebarToHost } from '../../src/extension/webview-protocol.js';
import type { Citation, Reference } from '../../src/core/types.js';
import { formatMs, formatTokens, h, icon } from '../shared/dom.js';
import { getState, onMessage, post as postAny, setState } from '../shared/host.js';
import { citationLabel, linkCitations } from '../model/answer.js';
import { referencesTitle } from '../../src/core/ask/references.js';
import { browseHistory, reduce, restoreState, type AskView, type SidebarState } from '../model/sidebar-state.js';
import { timeline, traceTotals, type DiffPart, type TimelineEntry } from '../model/timeline.js';

const post = (msg: SidebarToHost) => postAny(msg);
let state: SidebarState = restoreState(getState());
const saved = getState() as { open?: unknown } | undefined;
// Expanded timeline entries, kept across renders and across hide/show.
const open = new Set<string>(Array.isArray(saved?.open) ? saved.open.filter((k): k is string => typeof k === 'string') : []);
const fetched = new Map<string, { raw: string | null; compressed: string }>(); // blocks of the trace, fetched on expand
const showRaw = new Set<string>();
let historyIndex = -1;
let correcting = false;

// ---- static layout (the question box is built once so typing never loses focus)
const app = document.getElementById('app')!;
const statusLine = h('div', { class: 'status', role: 'status' });
const box = h('vscode-textarea', {
  id: 'question',
  placeholder: 'Ask about this workspace (Enter to ask, ↑ for history)',
  rows: 2,
  resize: 'vertical',
  'aria-label': 'Question',
}) as HTMLElement & { value: string };
const askButton = h('vscode-button', { id: 'ask', onclick: () => ask() }, 'Ask');
const stopButton = h('vscode-button', { id: 'stop', secondary: true, icon: 'debug-stop', title: 'Stop', 'aria-label': 'Stop', onclick: () => post({ type: 'stop' }) }, 'Stop');
const pins = h('div', { class: 'pins' });
const results = h('section', { class: 'results', 'aria-label': 'Answer and trace' });
app.append(statusLine, h('div', { class: 'ask-row' }, box, h('div', { class: 'ask-buttons' }, askButton, stopButton)), pins, results);

box.value = state.draft;
box.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ask();
  } else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !box.value.includes('\n')) {
    const moved = browseHistory(state.history, historyIndex, e.key === 'ArrowUp' ? 'older' : 'newer');
    if (moved.index !== historyIndex) {
      e.preventDefault();
      historyIndex = moved.index;
      box.value = moved.text;
    }
  }
});
box.addEventListener('input', () => {
  state = { ...state, draft: box.value };
  persist();
});

function ask(): void {
  const question = box.value.trim();
  if (!question || state.current?.status === 'running') return;
  historyIndex = -1;
  post({ type: 'ask', question });
}

onMessage<HostToSidebar>((msg) => {
  if (msg.type === 'rawBlock') {
    fetched.set(msg.blockId, { raw: msg.raw, compressed: msg.compressed });
    render();
    return;
  }
  const before = state.current?.askId;
  state = reduce(state, msg);
  if (msg.type === 'askStarted' && before !== msg.askId) {
    open.clear();
    correcting = false;
  }
  if (msg.type === 'prefill') {
    box.value = msg.question;
    box.focus();
  }
  if (msg.type === 'askStarted' && before !== msg.askId) box.value = '';
  render();
});

const persist = () => setState({ ...state, open: [...open] });

function render(): void {
  persist();
  renderStatus();
  const running = state.current?.status === 'running';
  stopButton.hidden = !running;
  askButton.toggleAttribute('disabled', running);
  renderPins();
  results.replaceChildren(...(state.current ? renderAsk(state.current) : [renderEmpty()]));
}

function renderStatus(): void {
  const s = state.status;
  const iconName = { starting: 'loading', indexing: 'sync', paused: 'debug-pause', ready: 'pass', error: 'error', untrusted: 'shield', stopped: 'circle-slash' }[s.state];
  const spin = s.state === 'starting' || s.state === 'indexing';
  const details = [s.blocks !== undefined ? `${s.blocks.toLocaleString()} blocks` : '', s.tokens !== undefined ? `${formatTokens(s.tokens)} tokens` : ''].filter(Boolean);
  statusLine.replaceChildren(
    h('span', { class: `codicon codicon-${iconName}${spin ? ' codicon-modifier-spin' : ''} state-${s.state}`, 'aria-hidden': 'true' }),
    h('span', { class: 'status-text', 'data-state': s.state }, [s.text, ...details].join(' · ')),
    h('span', { class: 'spacer' }),
    toolbarButton(s.state === 'indexing' ? 'debug-pause' : s.state === 'paused' ? 'debug-continue' : 'refresh', s.state === 'indexing' ? 'Pause indexing' : s.state === 'paused' ? 'Resume indexing' : 'Index workspace', () =>
      post({ type: 'command', command: s.state === 'indexing' || s.state === 'paused' ? 'pauseIndexing' : 'index' }),
    ),
    toolbarButton('symbol-structure', 'Memory inspector', () => post({ type: 'command', command: 'openInspector' })),
    toolbarButton('gear', 'Settings', () => post({ type: 'command', command: 'openSettings' })),
  );
}

function toolbarButton(name: string, label: string, onclick: () => void): HTMLElement {
  return h('button', { class: 'icon-button', title: label, 'aria-label': label, onclick }, icon(name));
}

function renderPins(): void {
  const chips = [
    ...state.pinned.map((p) => chip(p.blockId, p.label, 'pinned', 'pin')),
    ...state.excluded.map((p) => chip(p.blockId, p.label, 'excluded', 'eye-closed')),
  ];
  pins.replaceChildren(...chips);
  pins.hidden = chips.length === 0;
}

function chip(blockId: string, label: string, kind: string, iconName: string): HTMLElement {
  return h(
    'span',
    { class: `chip ${kind}`, title: `${kind}: ${label}` },
    icon(iconName),
    h('span', {}, label),
    h('button', { class: 'icon-button', title: `Remove (${kind})`, 'aria-label': `Remove ${label}`, onclick: () => post({ type: 'unpin', blockId }) }, icon('close')),
  );
}

function renderEmpty(): HTMLElement {
  return h('p', { class: 'hint' }, 'Ask a question about the code in this workspace. Answers cite the lines they come from; the trace shows which memory blocks were read and how the working memory changed.');
}

function renderAsk(cur: AskView): HTMLElement[] {
  const out: HTMLElement[] = [];
  const header = h(
    'div',
    { class: 'answer-header' },
    h('h2', {}, 'Answer'),
    cur.status === 'running' ? h('vscode-progress-ring', { 'aria-label': 'Answering' }) : null,
    confidenceBadge(cur),
  );
  out.push(header, h('p', { class: 'question' }, icon('comment'), ' ', cur.question));
  // Say how the question was read, so a wrong reading is visible (and rephrased) at once.
  if (cur.interpreted) out.push(h('p', { class: 'interpreted muted', title: 'The question in the form the engine answers' }, 'Read as: ', cur.interpreted));
  const answer = h('div', { class: 'answer', id: 'answer', 'data-status': cur.status });
  if (cur.answer) {
    for (const part of linkCitations(cur.answer, cur.citations)) answer.append(part.kind === 'text' ? part.text : citeLink(part.citation, part.text));
  } else if (cur.status === 'running') answer.append(h('span', { class: 'muted' }, 'Reading memory…'));
  if (cur.status === 'failed') answer.append(h('div', { class: 'error', role: 'alert' }, icon('error'), ' ', cur.error ?? 'failed'));
  if (cur.status === 'stopped') answer.append(h('div', { class: 'muted' }, icon('debug-stop'), ' Stopped.'));
  out.push(answer);
  if (cur.citations.length) {
    out.push(h('ul', { class: 'citations', 'aria-label': 'Citations' }, ...cur.citations.map((c) => h('li', {}, icon('file-code'), ' ', citeLink(c, citationLabel(c))))));
  }
  if (cur.status === 'done' && cur.references?.length) out.push(renderReferences(cur.references));
  if (cur.status === 'done') {
    if (cur.stats) {
      const s = cur.stats;
      out.push(h('p', { class: 'stats' }, `${s.blocksRead} of ${s.blocksTotal.toLocaleString()} blocks · ${formatTokens(s.tokensRead)} tokens · ${formatMs(s.ms)}`));
    }
    if (state.feedbackEnabled) out.push(renderFeedback(cur));
  }
  if (cur.steps.length || cur.status === 'running') out.push(renderTrace(cur));
  return out;
}

/** Every use a uses question found, each line a link: the answer cites only those its memory held. */
function renderReferences(refs: readonly Reference[]): HTMLElement {
  return h(
    'details',
    { class: 'references' },
    h('summary', {}, referencesTitle(refs)),
    h('ul', { 'aria-label': 'All uses found' }, ...refs.map((r) => h('li', {}, citeLink(r, `${r.path}:${r.startLine}`), ' ', h('code', {}, r.text)))),
  );
}

/** A low-confidence answer is evidence, not an answer: say so next to the heading. */
function confidenceBadge(cur: AskView): HTMLElement | null {
  if (cur.status !== 'done' || cur.confidence !== 'evidence') return null;
  return h('vscode-badge', { id: 'confidence', title: 'No confident answer: the closest evidence read is shown and cited' }, 'low confidence');
}

function citeLink(c: Citation, text: string): HTMLElement {
  return h(
    'a',
    {
      href: '#',
      class: 'cite',
      title: `Open ${citationLabel(c)}`,
      'data-path': c.path,
      'data-start': c.startLine,
      onclick: (e: Event) => {
        e.preventDefault();
        post({ type: 'openRange', range: c });
      },
    },
    text,
  );
}

function sendFeedback(cur: AskView, change: { verdict?: 'up' | 'down'; correctedAnswer?: string; marked?: Record<string, boolean> }): void {
  const marked = change.marked ?? cur.feedback.marked;
  const verdict = change.verdict ?? cur.feedback.verdict;
  const blocks = Object.entries(marked).flatMap(([blockId, relevant]) => {
    const read = cur.steps.find((e) => e.type === 'read' && e.blockId === blockId);
    return read?.path && read.startLine && read.endLine ? [{ blockId, path: read.path, startLine: read.startLine, endLine: read.endLine, relevant }] : [];
  });
  state = { ...state, current: { ...cur, feedback: { ...cur.feedback, ...(verdict ? { verdict } : {}), marked, message: 'Saving…' } } };
  post({ type: 'feedback', askId: cur.askId, ...(verdict ? { verdict } : {}), ...(change.correctedAnswer ? { correctedAnswer: change.correctedAnswer } : {}), ...(blocks.length ? { blocks } : {}) });
  render();
}

function renderFeedback(cur: AskView): HTMLElement {
  const f = cur.feedback;
  const row = h(
    'div',
    { class: 'feedback', role: 'group', 'aria-label': 'Feedback on this answer' },
    h('button', { class: `icon-button${f.verdict === 'up' ? ' active' : ''}`, id: 'thumbs-up', title: 'Good answer', 'aria-pressed': String(f.verdict === 'up'), onclick: () => sendFeedback(cur, { verdict: 'up' }) }, icon('thumbsup')),
    h('button', { class: `icon-button${f.verdict === 'down' ? ' active' : ''}`, id: 'thumbs-down', title: 'Bad answer', 'aria-pressed': String(f.verdict === 'down'), onclick: () => sendFeedback(cur, { verdict: 'down' }) }, icon('thumbsdown')),
    h('button', { class: 'link-button', id: 'correct', onclick: () => ((correcting = !correcting), render()) }, icon('edit'), ' correct it'),
    f.message ? h('span', { class: `feedback-message${f.saved === false ? ' error' : ''}`, role: 'status' }, f.message) : null,
  );
  if (!correcting) return row;
  const text = h('vscode-textarea', { id: 'correction', rows: 3, 'aria-label': 'Corrected answer', placeholder: 'The answer it should have given' }) as HTMLElement & { value: string };
  text.value = cur.answer;
  const save = h('vscode-button', { id: 'save-correction', onclick: () => ((correcting = false), sendFeedback(cur, { verdict: 'down', correctedAnswer: text.value })) }, 'Save correction');
  return h('div', {}, row, h('div', { class: 'correction' }, text, save));
}

function renderTrace(cur: AskView): HTMLElement {
  const entries = timeline(cur.steps);
  const totals = traceTotals(cur.steps);
  const key = 'trace';
  const body = h('ol', { class: 'timeline' }, ...entries.map((e, i) => h('li', { class: `entry ${e.kind}` }, renderEntry(cur, e, i))));
  const details = h('details', { class: 'trace', open: open.has(key) || cur.status === 'running' }, h('summary', {}, `Working memory trace · ${entries.length} steps · ${totals.reads} read · ${formatTokens(totals.tokens)} tok · ${formatMs(totals.ms)}`), body);
  details.addEventListener('toggle', () => {
    if (details.open) open.add(key);
    else open.delete(key);
    persist();
  });
  return details;
}

function expandable(key: string, summary: (Node | string)[], body: (Node | string)[], onOpen?: () => void): HTMLElement {
  const d = h('details', { open: open.has(key) }, h('summary', {}, ...summary), ...body);
  d.addEventListener('toggle', () => {
    if (d.open) {
      open.add(key);
      onOpen?.();
    } else open.delete(key);
    persist();
  });
  return d;
}

function renderEntry(cur: AskView, e: TimelineEntry, i: number): HTMLElement {
  const stepNo = h('span', { class: 'step' }, String(e.step));
  switch (e.kind) {
    case 'gate':
      return expandable(
        `g${i}`,
        [stepNo, h('b', {}, 'gate'), ` round ${e.round}: ${e.candidates.length} candidates, ${e.kept} kept · ${formatMs(e.ms)}`],
        [
          e.text ? h('p', { class: 'muted' }, e.text) : '',
          h(
            'table',
            { class: 'gate-table' },
            ...e.candidates.map((c) =>
              h(
                'tr',
                { class: c.kept ? 'kept' : 'dropped' },
                h('td', {}, icon(c.kept ? 'check' : 'close', c.kept ? 'kept' : 'dropped')),
                h('td', {}, c.path && c.startLine && c.endLine ? citeLink({ path: c.path, startLine: c.startLine, endLine: c.endLine }, `${c.path}:${c.startLine}-${c.endLine}`) : c.blockId),
                h('td', { class: 'score' }, c.score === null ? '' : c.score.toFixed(2)),
              ),
            ),
          ),
        ],
      );
    case 'read': {
      const where = e.path && e.startLine && e.endLine ? { path: e.path, startLine: e.startLine, endLine: e.endLine } : null;
      const marked = e.blockId ? cur.feedback.marked[e.blockId] : undefined;
      const id = e.blockId;
      const block = id ? fetched.get(id) : undefined;
      const raw = id !== undefined && showRaw.has(id);
      const code = block ? (raw ? (block.raw ?? '(the file is gone)') : block.compressed) : (e.text ?? (id ? 'loading…' : ''));
      const body: (Node | string)[] = [
        h('pre', { class: 'code', 'aria-label': raw ? 'Raw code' : 'Compressed block' }, code),
        h(
          'div',
          { class: 'entry-actions' },
          id && block
            ? h('button', { class: 'link-button', onclick: () => ((raw ? showRaw.delete(id) : showRaw.add(id)), render()) }, icon('code'), raw ? ' compressed' : ' raw')
            : null,
          where ? h('button', { class: 'link-button', onclick: () => post({ type: 'openRange', range: where }) }, icon('go-to-file'), ' open') : null,
          e.blockId ? h('button', { class: 'link-button', onclick: () => post({ type: 'inspectBlock', blockId: e.blockId! }) }, icon('symbol-structure'), ' inspect') : null,
          e.blockId && cur.status === 'done' && state.feedbackEnabled
            ? h(
                'span',
                { class: 'mark' },
                h('button', { class: `icon-button${marked === true ? ' active' : ''}`, title: 'Relevant block', 'aria-pressed': String(marked === true), onclick: () => sendFeedback(cur, { marked: { ...cur.feedback.marked, [e.blockId!]: true } }) }, icon('pass')),
                h('button', { class: `icon-button${marked === false ? ' active' : ''}`, title: 'Irrelevant block', 'aria-pressed': String(marked === false), onclick: () => sendFeedback(cur, { marked: { ...cur.feedback.marked, [e.blockId!]: false } }) }, icon('circle-slash')),
              )
            : null,
        ),
      ];
      if (e.memory) body.push(h('div', { class: 'memory' }, h('span', { class: 'muted' }, 'memory: '), ...diffNodes(e.memory.diff)));
      return expandable(
        `r${i}`,
        [stepNo, h('b', {}, 'read'), ' ', where ? `${where.path}:${where.startLine}-${where.endLine}` : (e.blockId ?? ''), e.score !== undefined ? h('span', { class: 'score' }, ` ${e.score.toFixed(2)}`) : '', h('span', { class: 'muted' }, ` · ${e.tokens ?? 0} tok · ${formatMs(e.ms)}`)],
        body,
        () => id && !fetched.has(id) && post({ type: 'rawBlock', blockId: id }),
      );
    }
    case 'memory':
      return expandable(`m${i}`, [stepNo, h('b', {}, 'memory'), h('span', { class: 'muted' }, ` · ${formatMs(e.ms)}`)], [h('div', { class: 'memory' }, ...diffNodes(e.memory.diff))]);
    case 'answer':
      return h('div', {}, stepNo, h('b', {}, 'answer'), h('span', { class: 'muted' }, ` · ${e.tokens ?? 0} tok · ${formatMs(e.ms)}`));
    case 'error':
      return h('div', { class: 'error' }, stepNo, h('b', {}, 'error '), e.text);
  }
}

function diffNodes(parts: DiffPart[]): Node[] {
  return parts.map((p) => (p.op === 'same' ? document.createTextNode(p.text) : h(p.op === 'add' ? 'ins' : 'del', {}, p.text)));
}

render();
post({ type: 'ready' });
