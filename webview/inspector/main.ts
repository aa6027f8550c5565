// The memory inspector: blocks by file and by search on the left; a block's raw code
// (kept tokens highlighted) beside its compressed form, its ratio, neighbours, why the
// gate kept or dropped it for the last question, and pin / exclude for the next one.
import '../shared/nonce.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import type { BlockDetail, BlockSummary, GateWhy, HostToInspector, InspectorToHost, PinView } from '../../src/extension/webview-protocol.js';
import { h, icon } from '../shared/dom.js';
import { getState, onMessage, post as postAny, setState } from '../shared/host.js';
import { keptSegments, ratio } from '../model/kept.js';

const post = (msg: InspectorToHost) => postAny(msg);

interface State {
  filter: string;
  query: string;
  files: string[];
  truncated: boolean;
  openFiles: Record<string, BlockSummary[] | null>;
  results: BlockSummary[] | null;
  block: BlockDetail | null;
  neighbours: BlockSummary[];
  why: GateWhy | null;
  pinned: PinView[];
  excluded: PinView[];
  error: string;
}

const saved = getState() as Partial<State> | undefined;
let state: State = { filter: '', query: '', files: [], truncated: false, openFiles: {}, results: null, block: null, neighbours: [], why: null, pinned: [], excluded: [], error: '', ...(saved ?? {}) };

const app = document.getElementById('app')!;
const filter = h('vscode-textfield', { id: 'filter', placeholder: 'Filter files', 'aria-label': 'Filter files' }) as HTMLElement & { value: string };
const search = h('vscode-textfield', { id: 'search', placeholder: 'Search blocks (Enter)', 'aria-label': 'Search blocks' }) as HTMLElement & { value: string };
const left = h('nav', { class: 'left', 'aria-label': 'Blocks by file' });
const right = h('section', { class: 'right', 'aria-label': 'Block' });
app.append(h('div', { class: 'inspector-layout' }, h('div', { class: 'left-pane' }, search, filter, left), right));
filter.value = state.filter;
search.value = state.query;

let filterTimer: ReturnType<typeof setTimeout> | undefined;
filter.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    state.filter = filter.value;
    post({ type: 'listFiles', filter: filter.value });
  }, 200);
});
search.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key !== 'Enter') return;
  state.query = search.value.trim();
  if (state.query) post({ type: 'search', query: state.query });
  else {
    state.results = null;
    render();
  }
});

onMessage<HostToInspector>((msg) => {
  switch (msg.type) {
    case 'files':
      state = { ...state, files: msg.files, truncated: msg.truncated };
      break;
    case 'fileBlocks':
      state = { ...state, openFiles: { ...state.openFiles, [msg.path]: msg.blocks } };
      break;
    case 'searchResults':
      state = { ...state, results: msg.results };
      break;
    case 'block':
      state = { ...state, block: msg.block, neighbours: msg.neighbours, error: '' };
      break;
    case 'why':
      state = { ...state, why: msg.why };
      break;
    case 'pins':
      state = { ...state, pinned: msg.pinned, excluded: msg.excluded };
      break;
    case 'error':
      state = { ...state, error: msg.message };
      break;
  }
  render();
});

const label = (b: { path: string; startLine: number; endLine: number }) => `${b.path}:${b.startLine}-${b.endLine}`;

function blockLink(b: BlockSummary): HTMLElement {
  const selected = state.block?.blockId === b.blockId;
  return h(
    'button',
    { class: `block-link${selected ? ' selected' : ''}`, 'data-block': b.blockId, 'aria-current': selected ? 'true' : undefined, onclick: () => post({ type: 'inspect', target: b.blockId }) },
    icon('symbol-namespace'),
    ` ${b.startLine}-${b.endLine}`,
    b.score !== undefined ? h('span', { class: 'score' }, ` ${b.score.toFixed(2)}`) : '',
  );
}

function render(): void {
  setState(state);
  const nodes: Node[] = [];
  if (state.results) {
    nodes.push(h('h3', {}, `Search: ${state.query}`));
    if (!state.results.length) nodes.push(h('p', { class: 'muted' }, 'No blocks found.'));
    nodes.push(h('ul', { class: 'results' }, ...state.results.map((r) => h('li', {}, h('span', { class: 'path' }, r.path), blockLink(r)))));
  }
  nodes.push(h('h3', {}, 'Files'));
  const files = h('ul', { class: 'files', role: 'tree' });
  for (const f of state.files) {
    const blocks = state.openFiles[f];
    const expanded = f in state.openFiles;
    const toggle = h(
      'button',
      {
        class: 'file',
        'aria-expanded': String(expanded),
        onclick: () => {
          if (expanded) {
            const { [f]: _, ...rest } = state.openFiles;
            state = { ...state, openFiles: rest };
            render();
          } else {
            state = { ...state, openFiles: { ...state.openFiles, [f]: null } };
            post({ type: 'fileBlocks', path: f });
            render();
          }
        },
      },
      icon(expanded ? 'chevron-down' : 'chevron-right'),
      ` ${f}`,
    );
    files.append(
      h('li', { role: 'treeitem' }, toggle, expanded ? (blocks === null || blocks === undefined ? h('div', { class: 'muted' }, 'loading…') : blocks.length ? h('div', { class: 'blocks' }, ...blocks.map(blockLink)) : h('div', { class: 'muted' }, 'no blocks (skipped or not indexed)')) : null),
    );
  }
  nodes.push(files);
  if (state.truncated) nodes.push(h('p', { class: 'muted' }, 'More files: filter to narrow.'));
  left.replaceChildren(...nodes);
  right.replaceChildren(...renderBlock());
}

function renderBlock(): Node[] {
  const out: Node[] = [];
  if (state.error) out.push(h('p', { class: 'error', role: 'alert' }, icon('error'), ' ', state.error));
  const b = state.block;
  if (!b) {
    out.push(h('p', { class: 'muted' }, 'Pick a block on the left, search for one, or open one from an answer’s trace.'));
    return out;
  }
  const isPinned = state.pinned.some((p) => p.blockId === b.blockId);
  const isExcluded = state.excluded.some((p) => p.blockId === b.blockId);
  out.push(
    h(
      'header',
      { class: 'block-header' },
      h('h2', {}, h('a', { href: '#', id: 'open-block', onclick: (e: Event) => (e.preventDefault(), post({ type: 'openRange', range: { path: b.path, startLine: b.startLine, endLine: b.endLine } })) }, label(b))),
      h('vscode-badge', { title: 'compression ratio' }, ratio(b.tokens, b.compressedTokens)),
      h('span', { class: 'muted' }, ` ${b.tokens} → ${b.compressedTokens} tokens · ${b.lang} · ${b.model}`),
      b.stale ? h('span', { class: 'warning' }, icon('warning'), ' the file changed since this block was made') : null,
      h('span', { class: 'spacer' }),
      h('vscode-button', { id: 'pin', secondary: !isPinned, icon: 'pin', onclick: () => post({ type: 'pin', blockId: b.blockId, label: label(b) }) }, isPinned ? 'Pinned' : 'Pin'),
      h('vscode-button', { id: 'exclude', secondary: !isExcluded, icon: 'eye-closed', onclick: () => post({ type: 'exclude', blockId: b.blockId, label: label(b) }) }, isExcluded ? 'Excluded' : 'Exclude'),
    ),
  );
  if (b.symbols.length) out.push(h('p', { class: 'symbols' }, icon('symbol-method'), ' ', b.symbols.join(', ')));
  out.push(renderWhy(b));
  const rawPane = h('pre', { class: 'code raw', 'aria-label': 'Raw code, kept tokens highlighted' });
  if (b.raw === null) rawPane.append(h('span', { class: 'muted' }, '(the file is gone)'));
  else for (const s of keptSegments(b.raw, b.compressed, b.startLine)) rawPane.append(s.kept ? h('mark', {}, s.text) : s.text);
  out.push(
    h(
      'div',
      { class: 'panes' },
      h('div', {}, h('h3', {}, 'Raw (kept tokens highlighted)'), rawPane),
      h('div', {}, h('h3', {}, 'Compressed'), h('pre', { class: 'code compressed', 'aria-label': 'Compressed form' }, b.compressed)),
    ),
  );
  out.push(h('h3', {}, 'Nearest neighbours'));
  out.push(state.neighbours.length ? h('ul', { class: 'results' }, ...state.neighbours.map((n) => h('li', {}, h('span', { class: 'path' }, n.path), blockLink(n)))) : h('p', { class: 'muted' }, 'None.'));
  return out;
}

function renderWhy(b: BlockDetail): HTMLElement {
  const why = state.why;
  if (!why) return h('p', { class: 'why muted' }, 'Ask a question to see why the gate keeps or drops this block.');
  const mine = why.decisions.filter((d) => d.blockId === b.blockId);
  const text = !mine.length
    ? 'was not among the candidates recalled for the last question.'
    : 'was ' + mine.map((d) => `${d.kept ? 'kept' : 'dropped'} in round ${d.round}${d.score === null ? '' : ` with score ${d.score.toFixed(2)}`}`).join('; ') + '.';
  return h('p', { class: `why${mine.some((d) => d.kept) ? ' kept' : ''}` }, icon('question'), ' For “', h('i', {}, why.question), '” this block ', text);
}

render();
post({ type: 'ready' });
