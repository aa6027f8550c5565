// The benchmark's own plot: accuracy and seconds per question against context length
// (log scale), one line per mode, as in the paper's figures. Plain SVG, no dependencies.
const COLORS = { gated: '#d62728', memagent: '#1f77b4', full: '#2ca02c', rag: '#9467bd' };

export function svgPlot(rows, modes, caption) {
  const ok = rows.filter((r) => !r.failed);
  const xs = [...new Set(ok.map((r) => r.tokens))].sort((a, b) => a - b);
  const W = 460;
  const H = 300;
  const pad = { l: 58, r: 16, t: 34, b: 46 };
  const lx = (t) => Math.log10(t);
  const x0 = lx(Math.min(...xs)) - 0.1;
  const x1 = lx(Math.max(...xs)) + 0.1;
  const px = (t) => pad.l + ((lx(t) - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const panel = (ox, title, value, yLog, skip = () => false) => {
    const vals = ok.map(value).filter((v) => v > 0 || !yLog);
    let y0 = yLog ? Math.floor(Math.log10(Math.min(...vals))) : 0;
    let y1 = yLog ? Math.ceil(Math.log10(Math.max(...vals))) : 1;
    if (y1 === y0) y1 = y0 + 1;
    const py = (v) => pad.t + (1 - ((yLog ? Math.log10(Math.max(v, 10 ** y0)) : v) - y0) / (y1 - y0)) * (H - pad.t - pad.b);
    let s = `<g transform="translate(${ox},0)"><text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${title}</text>`;
    s += `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>`;
    const ticks = yLog ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : [0, 0.25, 0.5, 0.75, 1];
    for (const t of ticks) {
      s += `<line x1="${pad.l}" y1="${py(t)}" x2="${W - pad.r}" y2="${py(t)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${yLog ? (t >= 1 ? t : t.toString()) : t}</text>`;
    }
    for (const t of xs) {
      const label = t >= 1e6 ? `${(t / 1e6).toFixed(2)}M` : `${Math.round(t / 1e3)}K`;
      s += `<line x1="${px(t)}" y1="${H - pad.b}" x2="${px(t)}" y2="${H - pad.b + 4}" stroke="#333"/><text x="${px(t)}" y="${H - pad.b + 17}" text-anchor="middle" font-size="11">${label}</text>`;
    }
    s += `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="12">context length (tokens)</text>`;
    for (const mode of modes) {
      const pts = ok.filter((r) => r.mode === mode && !skip(r)).sort((a, b) => a.tokens - b.tokens);
      if (!pts.length) continue;
      const c = COLORS[mode] ?? '#555';
      s += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((r) => `${px(r.tokens).toFixed(1)},${py(value(r)).toFixed(1)}`).join(' ')}"/>`;
      for (const r of pts) {
        s += r.projected
          ? `<circle cx="${px(r.tokens).toFixed(1)}" cy="${py(value(r)).toFixed(1)}" r="4" fill="white" stroke="${c}" stroke-width="2"/>`
          : `<circle cx="${px(r.tokens).toFixed(1)}" cy="${py(value(r)).toFixed(1)}" r="3.5" fill="${c}"/>`;
        // A point from very few questions says so.
        if (r.questions < 4) s += `<text x="${(px(r.tokens) - 6).toFixed(1)}" y="${(py(value(r)) - 8).toFixed(1)}" text-anchor="end" font-size="10" fill="${c}">${r.questions} q</text>`;
      }
    }
    return s + '</g>';
  };
  let legend = '';
  modes.forEach((m, i) => {
    const x = 70 + i * 120;
    legend += `<line x1="${x}" y1="${H + 14}" x2="${x + 24}" y2="${H + 14}" stroke="${COLORS[m] ?? '#555'}" stroke-width="3"/><text x="${x + 30}" y="${H + 18}" font-size="12">${m}</text>`;
  });
  legend += `<text x="${70 + modes.length * 120}" y="${H + 18}" font-size="11" fill="#555">open circle: projected (no accuracy); "1 q": one question</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 50}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'accuracy (containment)', (r) => r.containment, false, (r) => r.projected)}
${panel(W, 'seconds per question', (r) => r.sPerQuestion, true)}
${legend}
<text x="${W}" y="${H + 42}" text-anchor="middle" font-size="11" fill="#555">${caption}</text>
</svg>
`;
}
