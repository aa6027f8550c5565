// The sidebar's state and how host messages change it. The webview persists this with
// setState, so the view looks the same after it is hidden and shown again.
import type { AskResult, Citation, Reference, TraceEvent } from '../../src/core/types.js';
import type { HostToSidebar, PinView, StatusView } from '../../src/extension/webview-protocol.js';

export interface AskView {
  askId: string;
  question: string;
  status: 'running' | 'done' | 'failed' | 'stopped';
  steps: TraceEvent[];
  answer: string;
  citations: Citation[];
  /** A uses question's every use found (the answer cites those the working memory held). */
  references?: Reference[];
  stats?: AskResult['stats'];
  /** Set when the answer is done: 'evidence' is shown as a low-confidence answer. */
  confidence?: AskResult['confidence'];
  /** The question as the engine read it, when it reworded it. */
  interpreted?: string;
  error?: string;
  feedback: { verdict?: 'up' | 'down'; marked: Record<string, boolean>; saved?: boolean; message?: string };
}

export interface SidebarState {
  status: StatusView;
  history: string[];
  current: AskView | null;
  pinned: PinView[];
  excluded: PinView[];
  draft: string;
  feedbackEnabled: boolean;
}

export const HISTORY_MAX = 50;

export function initialState(): SidebarState {
  return { status: { state: 'starting', text: 'Starting…' }, history: [], current: null, pinned: [], excluded: [], draft: '', feedbackEnabled: true };
}

/** Restores persisted state defensively (an older version may have saved another shape). */
export function restoreState(saved: unknown): SidebarState {
  const base = initialState();
  if (typeof saved !== 'object' || saved === null) return base;
  const s = saved as Partial<SidebarState>;
  return {
    ...base,
    history: Array.isArray(s.history) ? s.history.filter((h): h is string => typeof h === 'string').slice(0, HISTORY_MAX) : [],
    current: s.current && typeof s.current.askId === 'string' ? { ...s.current, status: s.current.status === 'running' ? 'stopped' : s.current.status } : null,
    draft: typeof s.draft === 'string' ? s.draft : '',
  };
}

export function reduce(state: SidebarState, msg: HostToSidebar): SidebarState {
  switch (msg.type) {
    case 'status':
      return { ...state, status: msg.status };
    case 'pins':
      return { ...state, pinned: msg.pinned, excluded: msg.excluded };
    case 'prefill':
      return { ...state, draft: msg.question };
    case 'feedbackEnabled':
      return { ...state, feedbackEnabled: msg.enabled };
    case 'rawBlock':
      return state; // view-only data, not state
    case 'askStarted': {
      // The host replays the last question to a re-shown view: keep what the user did to it.
      const replay = state.current?.askId === msg.askId;
      return {
        ...state,
        history: remember(state.history, msg.question),
        draft: replay ? state.draft : '',
        current: { askId: msg.askId, question: msg.question, status: 'running', steps: [], answer: '', citations: [], feedback: replay ? state.current!.feedback : { marked: {} } },
      };
    }
    default:
      break;
  }
  const cur = state.current;
  if (!cur || cur.askId !== msg.askId) return state; // late messages of an older question
  switch (msg.type) {
    case 'trace': {
      const steps = [...cur.steps, msg.event];
      const answer = msg.event.type === 'answer' && msg.event.text ? mergeAnswer(cur.answer, msg.event.text) : cur.answer;
      return { ...state, current: { ...cur, steps, answer } };
    }
    case 'askDone':
      return {
        ...state,
        current: {
          ...cur,
          status: 'done',
          answer: msg.result.answer,
          citations: msg.result.citations,
          // The result's steps are the full trace; keep streamed ones if the result has none.
          steps: msg.result.steps.length ? msg.result.steps : cur.steps,
          stats: msg.result.stats,
          ...(msg.result.confidence ? { confidence: msg.result.confidence } : {}),
          ...(msg.result.interpreted ? { interpreted: msg.result.interpreted } : {}),
          ...(msg.result.references ? { references: msg.result.references } : {}),
        },
      };
    case 'askFailed':
      return { ...state, current: { ...cur, status: msg.cancelled ? 'stopped' : 'failed', ...(msg.cancelled ? {} : { error: msg.message }) } };
    case 'feedbackSaved':
      return { ...state, current: { ...cur, feedback: { ...cur.feedback, saved: msg.ok, message: msg.message } } };
  }
  return state;
}

function mergeAnswer(sofar: string, next: string): string {
  if (!sofar) return next;
  return next.startsWith(sofar) ? next : sofar + next;
}

/** Most recent first, no duplicates, bounded. */
export function remember(history: readonly string[], question: string): string[] {
  return [question, ...history.filter((h) => h !== question)].slice(0, HISTORY_MAX);
}

/** Up/down through the history from the box's current text: the next older/newer entry. */
export function browseHistory(history: readonly string[], index: number, direction: 'older' | 'newer'): { index: number; text: string } {
  const next = direction === 'older' ? Math.min(index + 1, history.length - 1) : Math.max(index - 1, -1);
  return { index: next, text: next === -1 ? '' : (history[next] ?? '') };
}
