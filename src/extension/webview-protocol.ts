// The one message protocol between the extension host and its webviews. Both sides import
// these types; the host validates every incoming message here (the webview is untrusted
// input: unknown or malformed messages are dropped and logged, never acted on).
// No `vscode` import: the webview bundle and node tests use this file too.
import type { AskResult, Citation, TraceEvent } from '../core/types.js';

export interface Range extends Citation {}

export interface MarkedBlockMsg extends Range {
  blockId?: string;
  relevant: boolean;
}

export type EngineState = 'starting' | 'indexing' | 'paused' | 'ready' | 'error' | 'untrusted' | 'stopped';

export interface StatusView {
  state: EngineState;
  text: string;
  percent?: number;
  blocks?: number;
  tokens?: number;
}

export interface PinView {
  blockId: string;
  label: string;
}

// ---- sidebar -> host
export type SidebarToHost =
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'stop' }
  | { type: 'openRange'; range: Range }
  | { type: 'inspectBlock'; blockId: string }
  | { type: 'rawBlock'; blockId: string }
  | { type: 'unpin'; blockId: string }
  | { type: 'feedback'; askId: string; verdict?: 'up' | 'down'; correctedAnswer?: string; blocks?: MarkedBlockMsg[] }
  | { type: 'command'; command: SidebarCommand };

export const SIDEBAR_COMMANDS = ['index', 'pauseIndexing', 'openInspector', 'openSettings', 'exportFeedback'] as const;
export type SidebarCommand = (typeof SIDEBAR_COMMANDS)[number];

// ---- host -> sidebar
export type HostToSidebar =
  | { type: 'status'; status: StatusView }
  | { type: 'askStarted'; askId: string; question: string }
  | { type: 'trace'; askId: string; event: TraceEvent }
  | { type: 'askDone'; askId: string; result: AskResult }
  | { type: 'askFailed'; askId: string; message: string; cancelled: boolean }
  | { type: 'feedbackSaved'; askId: string; ok: boolean; message: string }
  | { type: 'pins'; pinned: PinView[]; excluded: PinView[] }
  | { type: 'prefill'; question: string }
  | { type: 'rawBlock'; blockId: string; raw: string | null; compressed: string }
  | { type: 'feedbackEnabled'; enabled: boolean };

// ---- inspector -> host
export type InspectorToHost =
  | { type: 'ready' }
  | { type: 'listFiles'; filter: string }
  | { type: 'fileBlocks'; path: string }
  | { type: 'search'; query: string }
  | { type: 'inspect'; target: string }
  | { type: 'pin'; blockId: string; label: string }
  | { type: 'exclude'; blockId: string; label: string }
  | { type: 'openRange'; range: Range };

export interface BlockSummary extends Range {
  blockId: string;
  score?: number;
}

export interface BlockDetail extends Range {
  blockId: string;
  lang: string;
  symbols: string[];
  raw: string | null;
  compressed: string;
  tokens: number;
  compressedTokens: number;
  stale: boolean;
  model: string;
}

/** Why the gate kept or dropped a block for the last question. */
export interface GateWhy {
  question: string;
  decisions: { blockId: string; score: number | null; kept: boolean; round: number }[];
}

// ---- host -> inspector
export type HostToInspector =
  | { type: 'files'; files: string[]; truncated: boolean }
  | { type: 'fileBlocks'; path: string; blocks: BlockSummary[] }
  | { type: 'searchResults'; query: string; results: BlockSummary[] }
  | { type: 'block'; block: BlockDetail; neighbours: BlockSummary[] }
  | { type: 'why'; why: GateWhy | null }
  | { type: 'pins'; pinned: PinView[]; excluded: PinView[] }
  | { type: 'error'; message: string };

// ---- validation (host side)
const MAX_STRING = 20_000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max = MAX_STRING): v is string => typeof v === 'string' && v.length <= max;
const nonEmpty = (v: unknown, max = MAX_STRING): v is string => str(v, max) && v.trim().length > 0;
const line = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function range(v: unknown): Range | null {
  if (!isObj(v) || !nonEmpty(v.path, 4096) || !line(v.startLine) || !line(v.endLine) || v.endLine < v.startLine) return null;
  // Workspace-relative only: no absolute paths, no climbing out.
  if (v.path.startsWith('/') || /^[a-zA-Z]:/.test(v.path) || v.path.split(/[\\/]/).includes('..')) return null;
  return { path: v.path, startLine: v.startLine, endLine: v.endLine };
}

/** The message if it is a well-formed sidebar message, else null. Extra fields are dropped. */
export function parseSidebarMessage(v: unknown): SidebarToHost | null {
  if (!isObj(v) || typeof v.type !== 'string') return null;
  switch (v.type) {
    case 'ready':
    case 'stop':
      return { type: v.type };
    case 'ask':
      return nonEmpty(v.question, 4000) ? { type: 'ask', question: v.question.trim() } : null;
    case 'openRange': {
      const r = range(v.range);
      return r ? { type: 'openRange', range: r } : null;
    }
    case 'inspectBlock':
    case 'rawBlock':
    case 'unpin':
      return nonEmpty(v.blockId, 200) ? { type: v.type, blockId: v.blockId } : null;
    case 'command':
      return (SIDEBAR_COMMANDS as readonly unknown[]).includes(v.command) ? { type: 'command', command: v.command as SidebarCommand } : null;
    case 'feedback': {
      if (!nonEmpty(v.askId, 100)) return null;
      const out: Extract<SidebarToHost, { type: 'feedback' }> = { type: 'feedback', askId: v.askId };
      if (v.verdict !== undefined) {
        if (v.verdict !== 'up' && v.verdict !== 'down') return null;
        out.verdict = v.verdict;
      }
      if (v.correctedAnswer !== undefined) {
        if (!str(v.correctedAnswer)) return null;
        if (v.correctedAnswer.trim()) out.correctedAnswer = v.correctedAnswer.trim();
      }
      if (v.blocks !== undefined) {
        if (!Array.isArray(v.blocks) || v.blocks.length > 200) return null;
        const blocks: MarkedBlockMsg[] = [];
        for (const b of v.blocks) {
          const r = range(b);
          if (!r || !isObj(b) || typeof b.relevant !== 'boolean') return null;
          const m: MarkedBlockMsg = { ...r, relevant: b.relevant };
          if (b.blockId !== undefined) {
            if (!nonEmpty(b.blockId, 200)) return null;
            m.blockId = b.blockId;
          }
          blocks.push(m);
        }
        out.blocks = blocks;
      }
      if (!out.verdict && !out.correctedAnswer && !out.blocks?.length) return null;
      return out;
    }
    default:
      return null;
  }
}

export function parseInspectorMessage(v: unknown): InspectorToHost | null {
  if (!isObj(v) || typeof v.type !== 'string') return null;
  switch (v.type) {
    case 'ready':
      return { type: 'ready' };
    case 'listFiles':
      return str(v.filter, 500) ? { type: 'listFiles', filter: v.filter } : null;
    case 'fileBlocks': {
      const r = range({ path: v.path, startLine: 1, endLine: 1 });
      return r ? { type: 'fileBlocks', path: r.path } : null;
    }
    case 'search':
      return nonEmpty(v.query, 1000) ? { type: 'search', query: v.query.trim() } : null;
    case 'inspect':
      return nonEmpty(v.target, 4200) ? { type: 'inspect', target: v.target } : null;
    case 'pin':
    case 'exclude':
      return nonEmpty(v.blockId, 200) && str(v.label, 4200) ? { type: v.type, blockId: v.blockId, label: v.label } : null;
    case 'openRange': {
      const r = range(v.range);
      return r ? { type: 'openRange', range: r } : null;
    }
    default:
      return null;
  }
}
