// Every command's usage text, in one place: `engram --help`, `engram CMD --help`,
// `engram help CMD`, and the usage errors the commands throw all print from here.

export const COMMON_USAGE = `options (every command):
  --repo DIR            workspace folder (default: current folder)
  --store DIR           store folder (default: $ENGRAM_STORE_DIR or ~/.cache/engram/<hash>)
  --json                machine-readable output on stdout
  --exclude GLOB        extra exclude (gitignore syntax; repeatable)
  --max-file-bytes N    skip larger files (default 1000000)
  --include-secrets     index .env files, keys and credentials too (off by default)
  --follow-symlinks     allow symlinks that leave the workspace
  --compressor NAME|DIR a compressor model (default: engram-compressor) or structural ($ENGRAM_COMPRESSOR)
  --verbose             stack traces on errors
`;

export const USAGE = `usage: engram <command> [options]

commands:
  index                 build or refresh the store (progress on stderr)
  watch                 index, then keep the store current as files change
  status                files, blocks, tokens, skipped files, store size
  search "QUERY"        blocks by vector and lexical recall (--k N)
  inspect ID|PATH:LINE  a block, raw beside compressed
  ask "QUESTION"        answer with cited lines (--mode gated|memagent|full|rag)
  eval --qa FILE.jsonl  accuracy, citations, gate recall@k, latency and memory over a QA file
  serve --stdio         JSON-RPC server for the editor
  models list|pull      installed models and the provider each runs on; download REPO_ID
  export-feedback OUT   feedback as TRL datasets: OUT/kto.jsonl, dpo.jsonl, gate.jsonl

'engram help COMMAND' or 'engram COMMAND --help' shows a command's options.

${COMMON_USAGE}`;

const ASK_OPTIONS_USAGE = `  --mode gated|memagent|full|rag   how to read (default gated)
  --backend onnx|openai   reasoner backend (default: from --model/--server, ENGRAM_REASONER[_URL], or the shipped reasoner)
  --model NAME|DIR        ONNX decoder folder or installed model name
  --server URL            OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1) with --server-model NAME
  --context-tokens N      the server model's window (default 8192)
  --gate NAME|DIR|none    gate model (default: the installed gate; none: recall ranking)
  --threshold P --min-blocks N --max-blocks N --block-budget TOKENS   gate selection
  --memory-tokens N       working-memory bound (default 1024)
  --max-tokens N --time-budget SECONDS   stop reading and answer from memory
  --rag-k N               blocks for --mode rag (default 8)`;

/** Per command: the synopsis line(s), then its own options. */
const COMMAND_USAGE: Record<string, string> = {
  index: `usage: engram index [--quiet]
  --quiet                 no progress on stderr`,
  watch: 'usage: engram watch\n  indexes, then re-indexes changed files until Ctrl-C',
  status: 'usage: engram status [--json]',
  search: `usage: engram search [--json] [--k N] "QUERY"
  --k N                   how many blocks (default 10)`,
  inspect: 'usage: engram inspect [--json] BLOCK_ID|PATH:LINE',
  ask: `usage: engram ask [--json] [--mode gated|memagent|full|rag] "QUESTION"\n${ASK_OPTIONS_USAGE}`,
  eval: `usage: engram eval --qa FILE.jsonl [--json] [--mode ...] [--k N] [--limit N]
  --qa FILE.jsonl         one {"question", "answer", "evidence"?: [{path, startLine, endLine}]} per line
  --k N                   gate recall@k (default 8)
  --limit N               the first N questions only\n${ASK_OPTIONS_USAGE}`,
  serve: `usage: engram serve --stdio [--feedback FILE] [ask options]
  JSON-RPC over stdin/stdout for the editor (DESIGN.md); takes the options of 'engram ask'`,
  models: `usage: engram models list [--json]
       engram models pull REPO_ID [--revision R] [--include GLOB]... [--json]

Models are cached in $ENGRAM_MODELS_DIR (default $XDG_CACHE_HOME/engram/models);
downloads come from $HF_ENDPOINT (default https://huggingface.co), with $HF_TOKEN for gated repos.`,
  'export-feedback': `usage: engram export-feedback OUT_DIR [--feedback FILE]
  --feedback FILE         the feedback log (default: $ENGRAM_FEEDBACK_FILE or $XDG_DATA_HOME/engram/feedback.jsonl)`,
};

/** A command's usage: its synopsis and options (the common options are added for --help). */
export function usageOf(command: string): string {
  return COMMAND_USAGE[command] ?? USAGE;
}

/** What `engram help COMMAND` and `engram COMMAND --help` print. */
export function helpOf(command: string): string {
  return `${usageOf(command)}\n\n${COMMON_USAGE}`;
}

/** True when the arguments ask for help (before any `--` that ends the options). */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
