// Questions in the user's words ("which file defines LineStart?", "what's the default for
// show_groups in create_diagram?", "who calls parse_args?") read as the forms the engine
// answers from the code's structure, which are also the forms the reader was trained on
// ("Where is the class `LineStart` defined?"). A question is rewritten only when one form
// matches it whole: a partial guess would steer the gate and the reasoner wrong, so anything
// else is left as the user wrote it.
import { CODE_SHAPED, escapeRegExp, KEBAB_NAME, STOP_WORDS, WORD } from '../compress/identifiers.js';

/** The form a question was read as, and its rewording (the question itself when no form matched). */
export interface Interpreted {
  question: string;
  form: 'place' | 'value' | 'default' | 'chain' | 'calls' | 'uses' | 'signature' | 'returns' | 'explain' | 'overview' | null;
  /** A file or folder the question is asked about ("... in pyparsing/core.py"), taken off the question. */
  scope?: string;
}

const IDENT = String.raw`[\p{L}_$][\p{L}\p{N}_$]*`;
// A name: in backticks, or an identifier, maybe qualified (`Class.method`, `mod::f`), maybe with `()`,
// or a kebab-case name (`no-unused-vars`), which only a kind word makes a name (nameOf).
const NAME = '(`[^`\\n]{1,200}`|' + String.raw`${KEBAB_NAME.source.slice(1, -1)}|${IDENT}(?:(?:\.|::|#)${IDENT})*(?:\(\))?)`;
const KINDS =
  'function|method|class|constant|variable|interface|type|enum|struct|trait|module|component|hook|macro|constructor|property|field|exception|error|operator|decorator|helper|rule|loader|plugin|middleware|command';
/** Kinds said in a codebase's own words that are functions to the engine ("the retry operator", "the cached decorator"). */
const FUNCTION_KINDS: ReadonlySet<string> = new Set(['operator', 'decorator', 'helper']);
const PLAIN_KIND = /^(?:function|method|class)$/u;
// The kind of definition, before the name ("the class X") or after it ("the X class").
const BEFORE = String.raw`(?:the\s+)?(?:(${KINDS})\s+)?`;
const AFTER = String.raw`(?:\s+(${KINDS}))?`;
const THING = `${BEFORE}${NAME}${AFTER}`;
const PARAM_WORD = String.raw`(?:parameter|param|argument|arg|option|keyword\s+argument|kwarg)`;
const DEFINED = String.raw`(?:defined|declared|implemented|located|written|created)`;
const ANOTHER_FILE = String.raw`(?:(?:in|from)\s+(?:another|a\s+different|an\s+other|other|a\s+separate)\s+(?:file|module)|outside\s+(?:of\s+)?(?:its|the|this)\s+(?:own\s+)?(?:file|module))`;
const PRONOUNS: ReadonlySet<string> = new Set('it its this that these those them they he she we you i me one something anything everything what which who'.split(' '));
const SCREAMING = /^\p{Lu}[\p{Lu}\p{N}]*(?:_[\p{Lu}\p{N}]+)+$/u;

interface Name {
  name: string;
  owner?: string;
  kind?: string;
}

/** How sure the wording is that a slot holds a name: `weak` slots take only code-shaped or backticked names. */
type Strength = 'strong' | 'capitalized' | 'weak';

interface Rule {
  form: NonNullable<Interpreted['form']>;
  re: RegExp;
  /** The canonical question from the match, or null when its slots hold no names. */
  make: (m: RegExpExecArray) => string | null;
}

const rule = (form: Rule['form'], body: string, make: Rule['make']): Rule => ({ form, re: new RegExp(`^${body}$`, 'iu'), make });

/** `thing` read from a THING match starting at group `at` (kind before, name, kind after). */
function thingAt(m: RegExpExecArray, at: number, strength: (kind: string | undefined) => Strength): Name | null {
  let [before, name] = [m[at], m[at + 1]];
  // "the error function", "the type class": of two kind words, a lowercase function/method/class
  // after another is the kind, and the other the name ("the function error" stays as read).
  if (before && !m[at + 2] && name && PLAIN_KIND.test(name) && !PLAIN_KIND.test(before.toLowerCase())) [before, name] = [name, before];
  const said = (before ?? m[at + 2])?.toLowerCase();
  const kind = said && FUNCTION_KINDS.has(said) ? 'function' : said;
  return nameOf(name, kind, strength(kind));
}

const STRONG = (): Strength => 'strong';
const strongIf = (cue: boolean) => (kind: string | undefined): Strength => (cue || kind ? 'strong' : 'weak');
const placeStrength = (kind: string | undefined): Strength => (kind ? 'strong' : 'capitalized');

const RULES: readonly Rule[] = [
  // uses first: "where is X used" must not read as "where is X"
  rule('uses', String.raw`where\s+(?:is|are)\s+${THING}\s+(?:being\s+)?(used|called|referenced|invoked|imported|raised|thrown|instantiated|read)(?:\s+from)?`, (m) =>
    uses(thingAt(m, 1, STRONG), m[4]),
  ),
  rule('uses', String.raw`(?:who|what|which\s+(?:\S+\s+)?(?:functions?|methods?|files?|code|modules?|classes|places?))\s+(calls?|uses?|references?|imports?|raises?|throws?|instantiates?|invokes?)\s+${THING}`, (m) =>
    uses(thingAt(m, 2, STRONG), m[1]),
  ),
  rule('uses', String.raw`(?:find|show(?:\s+me)?|list|get)\s+(?:all\s+)?(?:the\s+)?(usages?|uses|references|callers|call\s+sites|calls)\s+(?:of|to|for)\s+${THING}`, (m) =>
    uses(thingAt(m, 2, STRONG), m[1]),
  ),
  rule('uses', String.raw`where\s+(?:do|does)\s+(?:we|i|you|the\s+code|anything|anyone)\s+(use|call|raise|throw|import|invoke|instantiate)\s+${THING}`, (m) =>
    uses(thingAt(m, 2, STRONG), m[1]),
  ),
  // subclasses: "which classes extend X", "find the subclasses of X"
  rule('uses', String.raw`(?:which|what)\s+(?:classes|types|interfaces)\s+(?:extend|subclass|inherit\s+from|derive\s+from|implement)\s+${THING}`, (m) => subclasses(thingAt(m, 1, STRONG))),
  rule('uses', String.raw`(?:who|what)\s+(?:extends|subclasses|inherits\s+from|implements)\s+${THING}`, (m) => subclasses(thingAt(m, 1, STRONG))),
  rule('uses', String.raw`(?:(?:list|find|show(?:\s+me)?)\s+(?:all\s+)?(?:the\s+)?|what\s+are\s+(?:the\s+)?)(?:subclasses|implementations|child\s+classes)\s+of\s+${THING}`, (m) =>
    subclasses(thingAt(m, 1, STRONG)),
  ),
  // call chains: "which function in another file does X call"
  rule('chain', String.raw`(?:what|which)\s+(?:function|method)\s+(?:(?:that\s+is\s+)?defined\s+)?${ANOTHER_FILE}\s+(?:does|do)\s+${THING}\s+call`, (m) =>
    chain(thingAt(m, 1, STRONG)),
  ),
  rule('chain', String.raw`(?:what|which)(?:\s+(?:function|method))?\s+(?:does|do)\s+${THING}\s+call\s+(?:(?:that\s+is\s+)?defined\s+)?${ANOTHER_FILE}`, (m) =>
    chain(thingAt(m, 1, STRONG)),
  ),
  // a function's own calls: "what does X call", "which functions are called by X"
  rule('calls', String.raw`(?:what|which)(?:\s+(?:functions?|methods?))?\s+(?:does|do)\s+${THING}\s+call`, (m) => calls(thingAt(m, 1, STRONG))),
  rule('calls', String.raw`(?:what|which)\s+(?:functions?|methods?)\s+(?:are|is)\s+called\s+(?:by|from|in|inside)\s+${THING}`, (m) => calls(thingAt(m, 1, STRONG))),
  rule('calls', String.raw`(?:list|show(?:\s+me)?|find)\s+(?:all\s+)?(?:the\s+)?(?:functions?\s+(?:called|used)|calls(?:\s+made)?)\s+(?:by|in|from|inside)\s+${THING}`, (m) =>
    calls(thingAt(m, 1, STRONG)),
  ),
  // parameter defaults: "what is the default (value) of/for (the parameter) P (of/in F)"
  rule(
    'default',
    String.raw`(?:what\s+is\s+)?(?:the\s+)?default(?:\s+value)?\s+(?:of|for)\s+(?:the\s+)?(?:${PARAM_WORD}\s+)?${NAME}(?:\s+${PARAM_WORD})?(?:\s+(?:of|in|for|on|to)\s+${THING})?`,
    (m) => defaultOf(m[1], m[3] ? m : null, 2),
  ),
  // "what does P (of/in F) default to", "what does P default to in F"
  rule(
    'default',
    String.raw`what\s+(?:does|do)\s+(?:the\s+)?(?:${PARAM_WORD}\s+)?${NAME}(?:\s+${PARAM_WORD})?(?:\s+(?:of|in|for)\s+${THING})?\s+default\s+to(?:\s+in\s+${THING})?`,
    (m) => defaultOf(m[1], m[3] ? m : m[6] ? m : null, m[3] ? 2 : 5),
  ),
  // "what is F's default for P"
  rule('default', String.raw`what\s+is\s+${BEFORE}${NAME}${AFTER}'s\s+default(?:\s+value)?\s+(?:of|for)\s+(?:the\s+)?(?:${PARAM_WORD}\s+)?${NAME}(?:\s+${PARAM_WORD})?`, (m) =>
    defaultOf(m[4], m, 1),
  ),
  // "F's P default", "what's P's default value in F", "what does F use for P by default": P is the
  // slot next to "default" even as a plain word (`errors`, `concurrent`), F the other name.
  rule('default', String.raw`${THING}'s\s+(?:the\s+)?${NAME}(?:\s+${PARAM_WORD})?\s+default(?:\s+value)?`, (m) => defaultOf(m[4], m, 1)),
  rule('default', String.raw`what(?:'s|\s+is)\s+(?:the\s+)?${NAME}(?:\s+${PARAM_WORD})?'s\s+default(?:\s+value)?\s+(?:in|of|for|on)\s+${THING}`, (m) => defaultOf(m[1], m, 2)),
  rule(
    'default',
    String.raw`what\s+(?:does|do)\s+${THING}\s+use\s+(?:for|as)\s+(?:the\s+)?(?:${PARAM_WORD}\s+)?${NAME}(?:\s+${PARAM_WORD})?\s+(?:by\s+default|when\s+(?:it\s+is\s+)?not\s+(?:given|passed|set))`,
    (m) => defaultOf(m[4], m, 1),
  ),
  // constants: "what is X set to", "what does X equal", "what is the value of X", "what is MAX_RETRIES"
  rule('value', String.raw`what\s+(?:is|are)\s+(?:the\s+)?(?:constant\s+|variable\s+|setting\s+)?${NAME}\s+(?:set\s+to|equal\s+to|assigned(?:\s+to)?|initiali[sz]ed\s+(?:to|with|as)|defined\s+as)`, (m) =>
    constant(nameOf(m[1], undefined, 'strong')),
  ),
  rule('value', String.raw`what\s+(?:does|do)\s+(?:the\s+)?(?:constant\s+|variable\s+|setting\s+)?${NAME}\s+(?:equal|hold|contain|evaluate\s+to|resolve\s+to)`, (m) => constant(nameOf(m[1], undefined, 'strong'))),
  rule('value', String.raw`what\s+value\s+(?:does|do)\s+(?:the\s+)?(?:constant\s+|variable\s+|setting\s+)?${NAME}\s+(?:have|hold|get|take)`, (m) => constant(nameOf(m[1], undefined, 'strong'))),
  rule('value', String.raw`what\s+is\s+(?:the\s+)?value\s+(?:of|for)\s+(?:the\s+)?(?:constant\s+|variable\s+|setting\s+)?${NAME}`, (m) => constant(nameOf(m[1], undefined, 'strong'))),
  rule('value', String.raw`what\s+(?:is|are)\s+${NAME}`, (m) => (SCREAMING.test(bare(m[1]!)) ? constant(nameOf(m[1], undefined, 'strong')) : null)),
  // signatures: "what arguments does X take", "what are the parameters of X", "the signature of X", "how do I call X"
  rule('signature', String.raw`what\s+(?:parameters|params|arguments|args)\s+(?:does|do)\s+${THING}\s+(?:take|accept|have|expect|need|require)`, (m) =>
    signature(thingAt(m, 1, STRONG)),
  ),
  rule('signature', String.raw`what\s+(?:are|is)\s+(?:the\s+)?(?:parameters|params|arguments|args|signature)\s+(?:of|for|to)\s+${THING}`, (m) => signature(thingAt(m, 1, STRONG))),
  rule('signature', String.raw`what\s+is\s+${BEFORE}${NAME}${AFTER}'s\s+signature`, (m) => signature(thingAt(m, 1, STRONG))),
  rule('signature', String.raw`(?:(?:show|give)\s+me\s+)?(?:the\s+)?(?:signature|parameters|arguments)\s+of\s+${THING}`, (m) => signature(thingAt(m, 1, STRONG))),
  rule('signature', String.raw`how\s+(?:do|can|should)\s+(?:i|you|we|one)\s+(?:call|invoke)\s+${THING}`, (m) => signature(thingAt(m, 1, placeStrength))),
  // returns: "what does X return", "what is the return type/value of X", "what type does X return"
  rule('returns', String.raw`what\s+(?:does|do)\s+${THING}\s+return`, (m) => returns(thingAt(m, 1, STRONG))),
  rule('returns', String.raw`what\s+(?:is|are)\s+(?:the\s+)?return\s+(?:type|value)s?\s+(?:of|for)\s+${THING}`, (m) => returns(thingAt(m, 1, STRONG))),
  rule('returns', String.raw`what\s+(?:type|kind\s+of\s+\w+)\s+(?:does|do)\s+${THING}\s+return`, (m) => returns(thingAt(m, 1, STRONG))),
  // explanations of one name: "what does X do", "what is X (for)", "explain X"
  rule('explain', String.raw`what\s+(?:does|do)\s+${THING}\s+do`, (m) => explain(thingAt(m, 1, STRONG))),
  // ("what is X": the reader's span head cannot answer it; the documentation, or the evidence, can)
  rule('explain', String.raw`what\s+(?:is|are)\s+${THING}(?:\s+(?:for|used\s+for))?`, (m) => explain(thingAt(m, 1, STRONG))),
  rule('explain', String.raw`what\s+is\s+the\s+(?:purpose|role|job)\s+of\s+${THING}`, (m) => explain(thingAt(m, 1, placeStrength))),
  rule('explain', String.raw`(?:explain|describe|summari[sz]e)\s+(?:what\s+)?${THING}(?:\s+does)?`, (m) => explain(thingAt(m, 1, STRONG))),
  // how one name works: "how does X work", "how is X implemented", "walk me through X" (X names code:
  // "how does caching work?" asks about an idea, and stays as written)
  rule('overview', String.raw`how\s+(?:does|do)\s+${THING}\s+work`, (m) => overview(thingAt(m, 1, placeStrength))),
  rule('overview', String.raw`how\s+(?:is|are)\s+${THING}\s+(?:implemented|written|coded)`, (m) => overview(thingAt(m, 1, placeStrength))),
  rule('overview', String.raw`(?:(?:explain|describe|show\s+me)\s+how\s+${THING}\s+works|walk\s+me\s+through\s+${THING})`, (m) =>
    overview(thingAt(m, m[2] ? 1 : 4, placeStrength)),
  ),
  // places: "where is X (defined)", "which file defines X", "find X", "definition of X"
  rule('place', String.raw`where\s+(?:is|are)\s+${THING}(?:\s+${DEFINED})?`, (m) => place(thingAt(m, 1, STRONG))),
  rule('place', String.raw`where\s+${THING}\s+(?:is|are)\s+${DEFINED}`, (m) => place(thingAt(m, 1, STRONG))),
  rule('place', String.raw`where\s+does\s+${THING}\s+(?:live|come\s+from|get\s+defined)`, (m) => place(thingAt(m, 1, placeStrength))),
  rule('place', String.raw`(?:in\s+)?(?:which|what)\s+(?:source\s+)?(?:file|module)\s+(?:defines|declares|implements|contains|has|holds)\s+${THING}`, (m) =>
    place(thingAt(m, 1, STRONG)),
  ),
  rule('place', String.raw`(?:in\s+)?(?:which|what)\s+(?:source\s+)?(?:file|module)\s+(?:is|are)\s+${THING}\s+(?:${DEFINED}(?:\s+in)?|in)`, (m) =>
    place(thingAt(m, 1, STRONG)),
  ),
  rule(
    'place',
    String.raw`(?:find|show(?:\s+me)?|get\s+me|(locate|open|go\s+to|jump\s+to|take\s+me\s+to|where\s+can\s+i\s+find))\s+(?:the\s+)?((?:definition|declaration|source|implementation|code)\s+(?:of|for)\s+)?${THING}(?:'s)?(\s+(?:definition|declaration|source|implementation))?`,
    // "find X" and "show me X" may name anything; "go to X" and "the definition of X" name code.
    (m) => place(thingAt(m, 3, strongIf(Boolean(m[1] ?? m[2] ?? m[6])))),
  ),
  rule('place', String.raw`(?:the\s+)?(?:definition|declaration)\s+of\s+${THING}`, (m) => place(thingAt(m, 1, STRONG))),
];

/** The question as the form it matches whole, else as it was; a file or folder it ends on is its scope. */
export function interpretQuestion(question: string): Interpreted {
  const q = normalized(question);
  const m = SCOPE.exec(q);
  const scope = m ? (m[1] ?? m[2] ?? '').replace(/^\.\//, '') : '';
  const rest = m ? q.slice(0, m.index) : q;
  const within = scope ? { scope } : {};
  for (const r of RULES) {
    const hit = r.re.exec(rest);
    const made = hit ? r.make(hit) : null;
    if (made) return { question: made, form: r.form, ...within };
  }
  const cued = byCues(rest);
  if (cued) return { ...cued, ...within };
  return scope ? { question: /\?\s*$/.test(question) ? `${rest}?` : rest, form: null, scope } : { question, form: null };
}

/** Words a question may have at most to be read by its cue words alone. */
const CUED_WORDS = 9;
/** Words of a default question that ask, and do not name a parameter. */
const ASKING_WORDS = new RegExp(String.raw`^(?:defaults?|values?|by|${PARAM_WORD}|parameters|params|arguments|args|options|${KINDS})$`, 'i');
// Cue words of each form, checked in this order; a question asking how, why or whether is none of them.
const NOT_CUED = /^(?:how|why|should|can|could|would|is|are|does|do)\b|\b(?:how|why|should)\b/i;
/** The forms cue words may read ("how" questions are never cued, so no overview). */
type CuedForm = Exclude<Interpreted['form'], null | 'overview'>;
const CUES: ReadonlyArray<[CuedForm, RegExp]> = [
  ['chain', /\bcalls?\b.*\b(?:another|other|different|separate|outside|elsewhere)\b|\b(?:another|other|different|separate|outside|elsewhere)\b.*\bcalls?\b/i],
  ['default', /\bdefaults?\b/i],
  ['signature', /\b(?:signature|parameters|params|arguments|args)\b/i],
  ['returns', /\breturns?\b/i],
  ['explain', /\b(?:purpose|used\s+for|for\??$|describe|explain|what\s+is\s+it|do\s+exactly|does\s*$|meaning)\b/i],
  ['uses', /\b(?:who|callers?|usages?|references?|used|uses)\b/i],
  ['calls', /\bcalls?\b/i],
  ['value', /\b(?:value|equals?|set\s+to|assigned)\b/i],
  ['place', /\b(?:where|defin\w*|declar\w*|source|locat\w*|find|file|module|path|looking\s+for|implement\w*)\b/i],
];

/**
 * A short question no wording above matches whole, read by its cue words when it names exactly the
 * code it is about (one name; two for a parameter and its function): "X is defined where?",
 * "source of X", "f's p default". Names here are code-shaped or in backticks, never plain words.
 */
function byCues(q: string): Interpreted | null {
  if (q.split(/\s+/).length > CUED_WORDS || NOT_CUED.test(q)) return null;
  const names = codeNames(q);
  const form = CUES.find(([, cue]) => cue.test(q))?.[0];
  if (!form || !names.length) return null;
  if (form === 'default') {
    if (names.length > 2) return null;
    // One code name and one plain word ("mergeMap: default for concurrent?", "default delay for
    // executeSchedule"): the two are told apart as two names are, a name before a colon being the function.
    const plain = names.length === 1 ? plainWord(q, names[0]!) : null;
    const pair = plain ? [names[0]!, plain] : names.length === 2 ? names : null;
    const heading = pair?.find((n) => new RegExp(String.raw`^\W*${escapeRegExp(fullName(n))}\x60?\s*:`).test(q));
    const [p, fn] = !pair ? [names[0]!, null] : heading ? [pair.find((n) => n !== heading)!, heading] : parameterAndFunction(q, pair);
    return { question: defaultQuestion(p, fn), form };
  }
  if (names.length !== 1) return null;
  const made = CUED[form](names[0]!);
  return made ? { question: made, form } : null;
}

/** The question each cued form of one name is read as. */
const CUED: Record<Exclude<CuedForm, 'default'>, (n: Name) => string | null> = {
  chain: (n) => chain(n),
  signature: (n) => signature(n),
  returns: (n) => returns(n),
  uses: (n) => uses(n, undefined),
  calls: (n) => calls(n),
  value: (n) => constant(n),
  explain: (n) => explain(n),
  place: (n) => place(n),
};

/** The code names of a question, in order: backticked, or shaped like code (`snake_case`, `camelCase`, `Class.method`). */
function codeNames(q: string): Name[] {
  const out: Name[] = [];
  for (const m of q.matchAll(new RegExp(NAME, 'gu'))) {
    const n = nameOf(m[1]!.replace(/'s$/, ''), undefined, 'weak');
    if (n && !out.some((o) => o.name === n.name && o.owner === n.owner)) out.push(n);
  }
  return out;
}

/** The one plain word of a default question besides its code name and the words of asking, if it has exactly one. */
function plainWord(q: string, named: Name): Name | null {
  const asked = new Set([named.name, named.owner].filter(Boolean).map((w) => w!.toLowerCase()));
  const words = (q.match(WORD) ?? []).filter((w) => {
    const low = w.toLowerCase();
    return !asked.has(low) && !STOP_WORDS.has(low) && !ASKING_WORDS.test(w) && !CODE_SHAPED.test(w);
  });
  return words.length === 1 ? { name: words[0]! } : null;
}

function fullName(n: Name): string {
  return n.owner ? `${n.owner}.${n.name}` : n.name;
}

/**
 * Which of two names is the parameter and which its function, by the surest sign: the function
 * follows "in" or "of", else ends the question after "for", else is possessive ("f's p"); with no
 * sign either way, the first name is the function's ("f: default for p").
 */
function parameterAndFunction(q: string, names: readonly Name[]): [Name, Name] {
  const [a, b] = names as [Name, Name];
  const sign = (n: Name): number => {
    const e = escapeRegExp(fullName(n));
    if (new RegExp(String.raw`\b(?:in|of)\s+(?:the\s+)?(?:\w+\s+)?\x60?${e}`, 'i').test(q)) return 3;
    if (new RegExp(String.raw`\bfor\s+\x60?${e}\x60?\W*$`, 'i').test(q)) return 2;
    return new RegExp(String.raw`${e}\x60?'s\b`).test(q) ? 1 : 0;
  };
  return sign(b) > sign(a) ? [a, b] : [b, a];
}

// Files the engine indexes have these endings: "in core.py" is a file, "in Engine.ask" is not.
const EXTENSIONS = 'py|pyi|js|jsx|mjs|cjs|ts|tsx|mts|cts|go|rs|java|kt|kts|scala|rb|php|c|h|cc|cpp|cxx|hpp|hh|cs|swift|m|mm|lua|pl|r|sql|sh|bash|zsh|ps1|vue|svelte|css|scss|less|html|md|mdx|rst|txt|json|yaml|yml|toml|ini|cfg|xml|gradle|dart|ex|exs|erl|hs|ml|clj|elm|zig|nim|jl|proto|graphql|tf';
// "... in pyparsing/core.py", "... in the file `core.py`", "... under src/core/", at the end of the question.
const SCOPE = new RegExp(
  String.raw`\s+(?:in|inside|within|under|from)\s+(?:the\s+)?(?:(?:file|folder|directory|module)\s+)?(?:` +
    '`([^`\\s]+)`|' +
    String.raw`((?:[\w@.-]+\/)*[\w@-][\w@.-]*\.(?:${EXTENSIONS})|(?:[\w@.-]+\/)+[\w@.-]*))(?:\s+(?:file|folder|directory))?$`,
  'i',
);

/** Contractions spelled out, politeness and the final punctuation dropped, spaces collapsed. */
function normalized(question: string): string {
  return question
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/[’]/g, "'")
    .replace(/\b(what|where|who|which|how)'s\b/gi, '$1 is')
    .replace(/^(?:(?:please|hey|ok|so)[,\s]+)*(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?(?:tell\s+me\s+|show\s+me\s+(?=where\b))?/i, '')
    .replace(/\s*(?:,?\s*please)?\s*[?.!]*\s*$/i, '')
    .replace(MEMBER_OF, (_, a: string | undefined, b: string | undefined, owner: string) => `${owner}.${a ?? b}`);
}

// "the run method of (the) (class) Job (class)", "the method run of Job": a member named with its class, as `Job.run`.
// Neither name is a determiner or question word ("which function in another file" names no member).
const NOT_MEMBER = String.raw`(?!(?:which|what|whose|the|a|an|this|that|these|those|each|every|any|some|another|other|its|their|one|module|file|package|namespace|folder|directory|class)\b)`;
const MEMBER_OF = new RegExp(
  String.raw`\b(?:the\s+)?(?:${NOT_MEMBER}(${IDENT})\s+(?:method|function|property|attribute|field)|(?:method|function|property|attribute|field)\s+${NOT_MEMBER}(${IDENT}))\s+(?:of|in|on)\s+(?:the\s+)?(?:class\s+)?${NOT_MEMBER}(${IDENT})(?:\s+class)?\b`,
  'giu',
);

function bare(slot: string): string {
  return slot.replace(/^`|`$/g, '').replace(/\(\)$/, '').trim();
}

/** A slot's name, when the wording's strength allows it: qualified names give their owner. */
function nameOf(slot: string | undefined, kind: string | undefined, strength: Strength): Name | null {
  if (!slot) return null;
  const quoted = slot.startsWith('`');
  const text = bare(slot);
  const parts = text.split(/\.|::|#/).filter(Boolean);
  // A kebab-case name is a module's (a file's): an eslint rule, a webpack loader, said with its kind.
  if (KEBAB_NAME.test(text)) return quoted || kind ? { name: text, ...(kind ? { kind } : {}) } : null;
  const name = parts.pop();
  if (!name || !new RegExp(`^${IDENT}$`, 'u').test(name)) return null;
  if (!quoted) {
    // In a slot the wording marks as a name, only pronouns are not names (`fn`, `type` may be parameters).
    if ((strength === 'strong' ? PRONOUNS : STOP_WORDS).has(name.toLowerCase()) && !CODE_SHAPED.test(name)) return null;
    const shaped = CODE_SHAPED.test(text) || parts.length > 0;
    if (strength === 'weak' && !shaped) return null;
    if (strength === 'capitalized' && !shaped && !/^\p{Lu}/u.test(name)) return null;
  }
  const owner = parts.pop();
  return { name, ...(owner ? { owner } : {}), ...(kind ? { kind } : {}) };
}

/** "the function `f`", "the method `m` of the class `C`", or "`x`" when the kind is unknown. */
function what(n: Name, fallback?: string): string {
  if (n.owner) return `the method \`${n.name}\` of the class \`${n.owner}\``;
  const kind = n.kind ?? fallback;
  return kind ? `the ${kind} \`${n.name}\`` : `\`${n.name}\``;
}

function explain(n: Name | null): string | null {
  return n && `What does ${what(n)} do?`;
}

function returns(n: Name | null): string | null {
  return n && `What does ${what(n)} return?`;
}

function signature(n: Name | null): string | null {
  return n && `What are the parameters of ${what(n)}?`;
}

function overview(n: Name | null): string | null {
  return n && `How does ${what(n)} work?`;
}

function place(n: Name | null): string | null {
  return n && `Where is ${what(n)} defined?`;
}

/** "Where is X used/called/raised?": the verb says which uses come first. */
function uses(n: Name | null, verb: string | undefined): string | null {
  const v = (verb ?? '').toLowerCase();
  const asked = /^(?:rais|throw)/.test(v) ? 'raised' : /^(?:call|invok)/.test(v) ? 'called' : /^import/.test(v) ? 'imported' : 'used';
  return n && `Where is ${what(n)} ${asked}?`;
}

function subclasses(n: Name | null): string | null {
  return n && `Which classes extend ${what(n)}?`;
}

function constant(n: Name | null): string | null {
  return n && `What is the value of the constant \`${n.owner ? `${n.owner}.${n.name}` : n.name}\`?`;
}

function calls(n: Name | null): string | null {
  return n && `Which functions does ${what(n, 'function')} call?`;
}

function chain(n: Name | null): string | null {
  return n && `${capitalized(what(n, 'function'))} calls exactly one function defined in another file. Which function is it?`;
}

/** A parameter's default, of the function matched at group `at` (THING's three groups) when there is one. */
function defaultOf(paramSlot: string | undefined, fnMatch: RegExpExecArray | null, at: number): string | null {
  const p = nameOf(paramSlot, undefined, 'strong');
  if (!p) return null;
  const fn = fnMatch ? thingAt(fnMatch, at, STRONG) : null;
  if (fnMatch && !fn) return null;
  return defaultQuestion(p, fn);
}

function defaultQuestion(p: Name, fn: Name | null): string {
  const of = fn ? ` of ${what(fn, 'function')}` : '';
  return `What is the default value of the parameter \`${p.name}\`${of}?`;
}

function capitalized(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
