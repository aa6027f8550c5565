// Which characters of a block's raw code the compressor kept: the compressed text form is
// lines of kept tokens anchored `N| ...` to source line N; its tokens are matched in order
// against the raw line (and the lines after it, for a kept line that wraps).

export interface Segment {
  text: string;
  kept: boolean;
}

const TOKEN = /\w+|[^\s\w]/g;

export function keptSegments(raw: string, compressed: string, startLine: number): Segment[] {
  const lines = raw.split('\n');
  // Tokens of each raw line with their offsets.
  const tokens = lines.map((l) => [...l.matchAll(TOKEN)].map((m) => ({ text: m[0], start: m.index, end: m.index + m[0].length })));
  const kept = lines.map((l) => new Uint8Array(l.length));
  let row = 0;
  let col = 0;
  for (const cline of compressed.split('\n')) {
    const anchor = /^(\d+)\|\s?(.*)$/.exec(cline);
    let content = cline;
    if (anchor) {
      row = Number(anchor[1]) - startLine;
      col = 0;
      content = anchor[2] ?? '';
    }
    for (const t of content.match(TOKEN) ?? []) {
      // Find the token at or after the cursor, looking at most a few lines ahead.
      for (let r = Math.max(row, 0), limit = row + 3; r < lines.length && r <= limit; r++) {
        const hit = tokens[r]!.find((x) => x.text === t && (r > row || x.start >= col));
        if (hit) {
          kept[r]!.fill(1, hit.start, hit.end);
          row = r;
          col = hit.end;
          break;
        }
      }
    }
  }
  const out: Segment[] = [];
  lines.forEach((l, r) => {
    for (let i = 0; i < l.length; i++) push(out, l[i]!, kept[r]![i] === 1);
    if (r < lines.length - 1) push(out, '\n', false);
  });
  return out;
}

function push(out: Segment[], ch: string, kept: boolean): void {
  const last = out.at(-1);
  if (last && last.kept === kept) last.text += ch;
  else out.push({ text: ch, kept });
}

export function ratio(tokens: number, compressedTokens: number): string {
  return compressedTokens > 0 ? `${(tokens / compressedTokens).toFixed(1)}×` : '–';
}
