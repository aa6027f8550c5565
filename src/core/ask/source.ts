// Raw source lines for `full` mode and for the gate model, read from disk through a
// small cache (blocks of one file come together).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export class SourceLines {
  // Promises, so requests for a file that is still being read share that one read.
  private readonly cache = new Map<string, Promise<string[] | null>>();

  constructor(
    private readonly repo: string,
    private readonly keep = 8,
  ) {}

  /** Lines start..end (1-based, inclusive), or null when the file is gone. */
  async lines(path: string, start: number, end: number): Promise<string[] | null> {
    let lines = this.cache.get(path);
    if (lines === undefined) {
      lines = readFile(resolve(this.repo, path), 'utf8').then(
        (text) => text.split(/\r?\n/),
        () => null,
      );
      this.cache.set(path, lines);
      if (this.cache.size > this.keep) this.cache.delete(this.cache.keys().next().value as string);
    }
    return (await lines)?.slice(start - 1, end) ?? null;
  }

  /** `N| line` per line, the same anchors the compressed text uses. */
  async numbered(path: string, start: number, end: number): Promise<string | null> {
    const lines = await this.lines(path, start, end);
    return lines ? lines.map((l, i) => `${start + i}| ${l}`).join('\n') : null;
  }
}
