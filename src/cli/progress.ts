// Progress of long work on stderr: one rewritten line on a terminal, a line per
// second otherwise (logs stay readable).
import type { Progress } from '../core/types.js';

export function progressPrinter(stream: NodeJS.WritableStream & { isTTY?: boolean }): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    const final = p.phase === 'done';
    if (!final && now - last < (stream.isTTY ? 100 : 1000)) return;
    last = now;
    const line = formatProgress(p);
    if (stream.isTTY) stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  };
}

export function formatProgress(p: Progress): string {
  // An index run that found nothing changed: say so rather than "indexed 0/0 files".
  if (p.phase === 'done' && p.filesTotal === 0) return 'up to date: no file changed';
  const verb = p.phase === 'recompress' ? 'recompressing' : p.phase === 'done' ? 'indexed' : 'indexing';
  const eta = p.etaSec === null ? '' : ` · ETA ${formatDuration(p.etaSec)}`;
  return `${verb} ${p.filesDone.toLocaleString('en-US')}/${p.filesTotal.toLocaleString('en-US')} files · ${compact(p.tokensDone)}/${compact(p.tokensTotal)} tokens · ${compact(p.tokensPerSec)} tok/s${eta}`;
}

export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function formatDuration(sec: number): string {
  if (sec < 60) return `${sec}s`;
  const m = Math.floor(sec / 60);
  return m < 60 ? `${m}m${String(sec % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
