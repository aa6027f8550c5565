// Cutting a parsed file into pieces at definition boundaries.
//
// The children of a node become *units*: line ranges that never share a line (nodes that share
// one are merged), with a doc comment or attribute glued to the definition or statement right below it and
// non-blank lines between nodes (braces, stray tokens) as units of their own. Units that fit the
// budget are packed greedily with their neighbours; a unit over budget is cut into its own
// children the same way (a class into members, a function into statements), and where no
// children help, into line windows. Pieces of a cut definition that start after its signature
// carry the signature as a prefix.
import type { Node } from 'web-tree-sitter';
import { countTokens } from '../tokens.js';
import { bodyOf, defInfo, TRANSPARENT, type DefInfo } from './definitions.js';
import { lineWindows, splitLongLine, type Lines, type Piece } from './lines.js';

interface Scope {
  /** Qualified name of the enclosing type, members are named `qual.member`. */
  qual: string;
  inFunction: boolean;
}

interface Unit {
  start: number;
  end: number;
  nodes: Node[];
  /** The node spanning most lines (what a split descends into). */
  main: Node | null;
  def: DefInfo | null;
  doc: boolean;
}

/** A signature kept for pieces after it. */
interface Context {
  text: string;
  tokens: number;
  /** Row of its first line: one context per row. */
  row: number;
  /** Last row of the signature; pieces starting after it carry the context. */
  sigEnd: number;
}

export class TreeCutter {
  constructor(
    private readonly L: Lines,
    private readonly budget: number,
    private readonly comment: string,
  ) {}

  cut(root: Node): Piece[] {
    const units = this.units(root.namedChildren, 0, this.L.count - 1, { qual: '', inFunction: false });
    return this.pack(units, [], { qual: '', inFunction: false });
  }

  private units(children: (Node | null)[], lo: number, hi: number, scope: Scope): Unit[] {
    const raw: Unit[] = [];
    for (const n of children) {
      if (!n) continue;
      let s = n.startPosition.row;
      let e = endRow(n);
      if (e < lo || s > hi) continue;
      s = Math.max(s, lo);
      e = Math.min(e, hi);
      const last = raw[raw.length - 1];
      if (last && s <= last.end) {
        last.nodes.push(n);
        if (last.main === null || e - s > last.end - last.start) last.main = n;
        last.end = Math.max(last.end, e);
        last.def ??= defInfo(n, scope.inFunction);
        last.doc = false;
        continue;
      }
      raw.push({ start: s, end: e, nodes: [n], main: n, def: defInfo(n, scope.inFunction), doc: isDocLike(n) });
    }
    // Glue doc comments and attributes to what they sit right above: a definition, or a statement
    // (`const terminate = (cb) => ...` inside a function is one, and its doc comment says what it does).
    const glued: Unit[] = [];
    for (let i = raw.length - 1; i >= 0; i--) {
      const u = raw[i] as Unit;
      const next = glued[glued.length - 1];
      if (u.doc && next && !next.doc && next.start === u.end + 1) {
        next.start = u.start;
        next.nodes.unshift(...u.nodes);
        continue;
      }
      glued.push(u);
    }
    glued.reverse();
    // Lines between units with text in them (closing braces, keywords) become units too.
    const out: Unit[] = [];
    let at = lo;
    for (const u of glued) {
      if (u.start > at && this.L.hasText(at, u.start - 1)) out.push(filler(at, u.start - 1));
      out.push(u);
      at = u.end + 1;
    }
    if (at <= hi && this.L.hasText(at, hi)) out.push(filler(at, hi));
    return out;
  }

  private pack(units: Unit[], contexts: Context[], scope: Scope): Piece[] {
    const out: Piece[] = [];
    // A piece carries the signatures that end before it (withPrefix) and has the rest of the
    // budget; the piece holding a function's own head carries none of its own, so the head
    // stays with its docstring and first statements.
    const budgetAt = (start: number): number => {
      const apply = contexts.filter((c) => c.sigEnd < start);
      return apply.length ? Math.max(8, this.budget - apply.reduce((s, c) => s + c.tokens, 0) - 4) : this.budget;
    };
    let cur: Piece | null = null;
    const flush = (): void => {
      if (cur) out.push(this.withPrefix(cur, contexts));
      cur = null;
    };
    for (const u of units) {
      if (this.L.tokens(u.start, u.end) > budgetAt(u.start)) {
        // A head alone before an over-budget first statement (a long docstring) opens that
        // statement's first piece, so the name and the start of its documentation are read together.
        const head = cur as Piece | null;
        if (head && head.symbols.length === 0 && contexts.some((c) => c.row <= head.start && head.end <= c.sigEnd)) {
          cur = null;
          out.push(...this.split({ ...u, start: head.start }, contexts, scope));
          continue;
        }
        flush();
        out.push(...this.split(u, contexts, scope));
        continue;
      }
      const prev = out[out.length - 1];
      const closing = u.nodes.length === 0 && u === units[units.length - 1];
      if (closing && cur === null && prev && prev.partText === undefined && prev.end < u.start && this.L.tokens(u.start, u.end) <= 8) {
        // A closing brace after a cut definition: keep it with the definition's last piece.
        prev.end = u.end;
        continue;
      }
      if (cur !== null && this.L.tokens((cur as Piece).start, u.end) > budgetAt((cur as Piece).start)) flush();
      const syms = this.symbolsOf(u, scope);
      if (cur === null) cur = { start: u.start, end: u.end, symbols: syms, prefix: '' };
      else {
        (cur as Piece).end = u.end;
        (cur as Piece).symbols.push(...syms);
      }
    }
    flush();
    return out;
  }

  private split(u: Unit, contexts: Context[], scope: Scope): Piece[] {
    const node = u.def ? u.def.inner : u.main;
    if (!node) return this.windows(u.start, u.end, contexts, []);
    const ctx = this.contextFor(node, u.def, u.start);
    const inner = ctx && !contexts.some((c) => c.row === ctx.row) ? trimContexts([...contexts, ctx], this.budget) : contexts;
    const names = u.def ? u.def.names.map((n) => qualify(scope.qual, n)) : [];
    const childScope: Scope = {
      qual: u.def?.kind === 'class' && names[0] ? names[0] : scope.qual,
      inFunction: scope.inFunction || u.def?.kind === 'fn',
    };
    const body = u.def ? bodyOf(u.def.inner) : null;
    const children = body ? body.namedChildren : node.namedChildren;
    const sub = this.units(children, u.start, u.end, childScope);
    let pieces: Piece[];
    if (sub.length >= 2) pieces = this.pack(sub, inner, childScope);
    else if (sub.length === 1 && sub[0]?.main && sub[0].main !== node && sub[0].main !== u.main) {
      // One child fills the range (a call wrapping a callback, a body block): descend into it.
      const only = sub[0];
      pieces = this.split({ ...only, start: u.start, end: u.end }, inner, childScope);
    } else pieces = this.windows(u.start, u.end, inner, names);
    // Pieces of a definition that name nothing of their own still belong to it.
    if (names.length > 0) for (const p of pieces) if (p.symbols.length === 0) p.symbols = [...names];
    if (names.length > 0 && pieces[0] && !pieces[0].symbols.some((s) => names.includes(s))) pieces[0].symbols.unshift(...names);
    return pieces;
  }

  private windows(a: number, b: number, contexts: Context[], symbols: string[]): Piece[] {
    const prefixTokens = contexts.reduce((s, c) => s + c.tokens, 0) + (contexts.length ? 4 : 0);
    const budget = Math.max(8, this.budget - prefixTokens);
    return lineWindows(this.L, a, b, budget, [...symbols], '').map((p) => this.withPrefix(p, contexts));
  }

  /** The signature of a definition (its lines up to where the body opens), or a node's first line. */
  private contextFor(node: Node, def: DefInfo | null, unitStart: number): Context | null {
    const start = Math.max(node.startPosition.row, unitStart);
    let sigEnd = start;
    if (def) {
      const body = bodyOf(def.inner);
      if (body) {
        const r = body.startPosition.row;
        const before = this.L.line(r).slice(0, body.startPosition.column);
        sigEnd = Math.max(start, before.trim() !== '' ? r : r - 1);
      }
    }
    if (this.L.blank(start)) return null;
    let text = this.L.text(start, sigEnd);
    const cap = Math.floor(this.budget / 4);
    if (this.L.tokens(start, sigEnd) > cap) {
      text = this.L.line(start);
      if (this.L.tokens(start, start) > cap) text = splitLongLine(text, cap)[0] ?? '';
    }
    return { text, tokens: countTokens(text), row: start, sigEnd };
  }

  private withPrefix(p: Piece, contexts: Context[]): Piece {
    const apply = contexts.filter((c) => c.sigEnd < p.start);
    if (apply.length === 0) return p;
    const first = p.partText ?? this.L.line(p.start);
    const indent = /^\s*/.exec(first)?.[0] ?? '';
    const prefix = `${apply.map((c) => c.text).join('\n')}\n${indent}${this.comment} …\n`;
    return { ...p, prefix };
  }

  private symbolsOf(u: Unit, scope: Scope): string[] {
    const out: string[] = [];
    for (const n of u.nodes) collectSymbols(n, scope, 0, out);
    return out;
  }
}

function collectSymbols(n: Node, scope: Scope, depth: number, out: string[]): void {
  const d = defInfo(n, scope.inFunction);
  if (d) {
    const names = d.names.map((x) => qualify(scope.qual, x));
    out.push(...names);
    if ((d.kind === 'class' || d.kind === 'ns') && depth < 3) {
      const body = bodyOf(d.inner);
      const qual = d.kind === 'class' && names[0] ? names[0] : scope.qual;
      if (body) for (const c of body.namedChildren) if (c) collectSymbols(c, { qual, inFunction: false }, depth + 1, out);
    }
    return;
  }
  if (TRANSPARENT.has(n.type) && depth < 3) for (const c of n.namedChildren) if (c) collectSymbols(c, scope, depth + 1, out);
}

/** Keep the innermost signatures within a third of the budget. */
function trimContexts(contexts: Context[], budget: number): Context[] {
  const out = [...contexts];
  while (out.length > 1 && out.reduce((s, c) => s + c.tokens, 0) > budget / 3) out.shift();
  return out;
}

function qualify(qual: string, name: string): string {
  return qual ? `${qual}.${name}` : name;
}

function filler(start: number, end: number): Unit {
  return { start, end, nodes: [], main: null, def: null, doc: false };
}

/** Last row with text of a node (some nodes end at column 0 of the next line). */
function endRow(n: Node): number {
  const e = n.endPosition;
  return e.column === 0 && e.row > n.startPosition.row ? e.row - 1 : e.row;
}

function isDocLike(n: Node): boolean {
  return n.type.includes('comment') || n.type === 'attribute_item' || n.type === 'decorator' || n.type === 'attribute_list';
}
