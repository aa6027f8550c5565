// Feedback records as training data in TRL's own dataset formats, loadable with
// `datasets.load_dataset('json', data_files=...)` without conversion.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeedbackRecord } from './record.js';

/** TRL's unpaired preference format (KTO). */
export interface KtoRow {
  prompt: string;
  completion: string;
  label: boolean;
}
/** TRL's preference format (DPO). */
export interface DpoRow {
  prompt: string;
  chosen: string;
  rejected: string;
}
/** A labelled (question, working memory, block) example for the gate classifier. */
export interface GateRow {
  question: string;
  memory: string;
  path: string;
  startLine: number;
  endLine: number;
  block: string;
  label: number;
}

export interface TrainingRows {
  kto: KtoRow[];
  dpo: DpoRow[];
  gate: GateRow[];
}

export function toTrainingRows(records: readonly FeedbackRecord[]): TrainingRows {
  const rows: TrainingRows = { kto: [], dpo: [], gate: [] };
  for (const r of records) {
    const corrected = r.correctedAnswer?.trim();
    if (r.verdict && r.answer.trim()) rows.kto.push({ prompt: r.question, completion: r.answer, label: r.verdict === 'up' });
    if (corrected && r.answer.trim() && corrected !== r.answer.trim()) {
      rows.dpo.push({ prompt: r.question, chosen: corrected, rejected: r.answer });
      // The corrected answer is a good completion too.
      rows.kto.push({ prompt: r.question, completion: corrected, label: true });
    }
    for (const b of r.blocks ?? []) {
      rows.gate.push({
        question: r.question,
        memory: memoryBefore(r, b.blockId, b.path, b.startLine),
        path: b.path,
        startLine: b.startLine,
        endLine: b.endLine,
        block: b.text ?? '',
        label: b.relevant ? 1 : 0,
      });
    }
  }
  return rows;
}

/** The working memory the gate saw before the block was read (empty when it never was). */
function memoryBefore(r: FeedbackRecord, blockId: string | undefined, path: string, startLine: number): string {
  let memory = '';
  for (const e of r.trace) {
    const same = blockId ? e.blockId === blockId : e.path === path && e.startLine === startLine;
    if (e.type === 'read' && same) return memory;
    if (e.type === 'memory' && typeof e.memory === 'string') memory = e.memory;
  }
  return memory;
}

export interface ExportReport {
  dir: string;
  /** Rows per written file; a format with no rows writes no file (an empty file does not load). */
  files: { name: string; path: string; rows: number }[];
  records: number;
}

/** Writes kto.jsonl, dpo.jsonl and gate.jsonl into `dir` (each atomically). */
export async function exportFeedback(records: readonly FeedbackRecord[], dir: string): Promise<ExportReport> {
  const rows = toTrainingRows(records);
  await mkdir(dir, { recursive: true });
  const files: ExportReport['files'] = [];
  for (const name of ['kto', 'dpo', 'gate'] as const) {
    const list: object[] = rows[name];
    const path = join(dir, `${name}.jsonl`);
    if (!list.length) {
      await rm(path, { force: true }); // no stale file from an earlier export
      continue;
    }
    await writeFile(`${path}.tmp`, list.map((row) => JSON.stringify(row)).join('\n') + '\n', 'utf8');
    await rename(`${path}.tmp`, path);
    files.push({ name, path, rows: list.length });
  }
  return { dir, files, records: records.length };
}
