// The JSON-RPC protocol of `engram serve --stdio`: the extension's only way into
// the engine. Both sides import these types, so a change breaks the build, not users.
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import type { InspectedBlock, StatusReport } from './engine.js';
import type { ExportReport } from './feedback/export.js';
import type { FeedbackInput } from './feedback/record.js';
import type { IndexReport } from './sync/indexer.js';
import type { AskMode, AskResult, Progress, SearchHit, TraceEvent } from './types.js';

/** Application error codes carried in ResponseError.code (outside JSON-RPC's reserved range). */
export const RpcErrorCode = {
  /** Bad input: the message is for the user. */
  UserError: 1,
  /** The engine failed. */
  EngineFailure: 2,
  /** The request was cancelled. */
  Cancelled: 3,
} as const;

export const IndexRequest = new RequestType<Record<string, never>, IndexReport, void>('index');
export const StatusRequest = new RequestType<Record<string, never>, StatusReport, void>('status');
export const SearchRequest = new RequestType<{ query: string; k?: number }, { results: SearchHit[] }, void>('search');
export const InspectRequest = new RequestType<{ target: string }, InspectedBlock, void>('inspect');
/** Turns watching on or off; updates arrive as `updated` notifications. */
export const WatchRequest = new RequestType<{ enabled: boolean }, { watching: boolean }, void>('watch');

export const ProgressNotification = new NotificationType<Progress>('progress');
export const UpdatedNotification = new NotificationType<{ report: IndexReport; paths: number }>('updated');
export const WarningNotification = new NotificationType<{ message: string }>('warning');

export interface AskParams {
  question: string;
  mode?: AskMode;
  /** Echoed on every `trace` notification of this question, so a client can tell questions apart. */
  askId?: string;
  /** Block ids to read whatever the gate says, and block ids never to read. */
  pinned?: string[];
  excluded?: string[];
}
/**
 * Answers a question; trace events stream as `trace` notifications while it runs; cancellable.
 * The result's `confidence` is 'evidence' when the reasoner found no confident answer and quotes
 * the closest evidence instead: clients show it as such, never as an answer.
 */
export const AskRequest = new RequestType<AskParams, AskResult, void>('ask');
export const TraceNotification = new NotificationType<{ askId: string; event: TraceEvent }>('trace');

/** Stores explicit feedback on one answer in the local feedback file (nothing is sent anywhere). */
export const FeedbackRequest = new RequestType<FeedbackInput, { id: string; file: string }, void>('feedback');
/** Writes the feedback file as TRL datasets (kto/dpo/gate JSONL) into `out`. */
export const ExportFeedbackRequest = new RequestType<{ out: string }, ExportReport, void>('exportFeedback');
