// Test helpers: real folders on disk and the real CLI in a child process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const CLI = resolve(__dirname, '..', '..', 'bin', 'engram.js');

/** A temp folder with `files` written into it; removed by `cleanup`. */
export function tempRepo(files: Record<string, string> = {}): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'engram-test-'));
  writeFiles(dir, files);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function engram(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI without waiting (for kill tests). */
export function engramChild(args: string[]) {
  return spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function git(dir: string, ...args: string[]): void {
  const r = spawnSync('git', ['-c', 'user.email=t@e', '-c', 'user.name=t', ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}

/** A small but real multi-language codebase. */
export function sampleFiles(): Record<string, string> {
  return {
    'src/net/config.ts': `// Network settings.\nexport const RETRY_BASE_MS = 250;\nexport const MAX_RETRIES = 5;\n`,
    'src/net/retry.ts': `import { RETRY_BASE_MS } from './config';\n\n/** Exponential backoff: doubles per attempt. */\nexport function backoff(attempt: number): number {\n  return RETRY_BASE_MS * 2 ** attempt;\n}\n`,
    'app/server.py': `import os\n\nDEFAULT_PORT = 8080\n\ndef start_server(port: int = DEFAULT_PORT) -> None:\n    """Start the HTTP server."""\n    print("listening", port)\n`,
    'README.md': `# Sample\n\nA sample project for tests.\n`,
    '.env': 'API_TOKEN=supersecret\n',
    'node_modules/dep/index.js': 'module.exports = 1;\n',
  };
}

/** Polls `check` until it holds (file events arrive asynchronously); fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
