// The local feedback file: JSONL, one record per line, appended; nothing is sent anywhere.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { sha256Hex } from '../hash.js';
import type { FeedbackInput, FeedbackRecord } from './record.js';

/** ENGRAM_FEEDBACK_FILE, else $XDG_DATA_HOME/engram/feedback.jsonl (~/.local/share when unset). */
export function defaultFeedbackFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENGRAM_FEEDBACK_FILE) return resolve(env.ENGRAM_FEEDBACK_FILE);
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'engram', 'feedback.jsonl');
}

export class FeedbackStore {
  constructor(readonly file: string) {}

  /** Appends one record (a single write of one line, so concurrent writers never interleave). */
  async append(input: Omit<FeedbackInput, 'models'>, context: { repo: string; models: Record<string, string>; now?: Date }): Promise<FeedbackRecord> {
    const timestamp = (context.now ?? new Date()).toISOString();
    const id = sha256Hex(`${timestamp}\0${input.question}\0${input.answer}\0${Math.random()}`).slice(0, 16);
    const record: FeedbackRecord = { id, ...input, repo: context.repo, models: context.models, timestamp };
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, JSON.stringify(record) + '\n', 'utf8');
    return record;
  }

  /**
   * Every readable record, one per asked question: a later record with the same askId (the user
   * changed their mind, or added a correction) replaces the earlier one. Lines that are not JSON
   * objects with a question are counted, not fatal.
   */
  async readAll(): Promise<{ records: FeedbackRecord[]; skipped: number }> {
    const text = await readFile(this.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const records: FeedbackRecord[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const value: unknown = JSON.parse(line);
        if (isRecord(value)) records.push(value);
        else skipped++;
      } catch {
        skipped++; // a torn last line after a crash, or a hand edit
      }
    }
    const last = new Map<string, number>();
    records.forEach((r, i) => r.askId && last.set(r.askId, i));
    return { records: records.filter((r, i) => !r.askId || last.get(r.askId) === i), skipped };
  }
}

function isRecord(value: unknown): value is FeedbackRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.question === 'string' && typeof v.answer === 'string' && Array.isArray(v.trace ?? []);
}
