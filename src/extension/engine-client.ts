// The engine, out of process: spawns `engram serve --stdio`, talks JSON-RPC to it, and
// restarts it when it dies (with a short backoff and a cap, so a crash loop stops).
// No `vscode` import: tests drive it against the real server.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type CancellationToken,
  type MessageConnection,
  type NotificationType,
  type RequestType,
} from 'vscode-jsonrpc/node';

export interface EngineLaunch {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export type ClientState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

export interface EngineClientOptions {
  /** Called on every (re)start, so setting changes apply to the next process. */
  launch: () => EngineLaunch;
  onState?: (state: ClientState, message?: string) => void;
  /** stderr lines of the server (logs). */
  onLog?: (line: string) => void;
  /** Called after each successful (re)start, to re-register notifications and resume work. */
  onConnected?: (connection: MessageConnection) => void;
  /** Restarts allowed within `restartWindowMs` before giving up (default 4 in 60 s). */
  maxRestarts?: number;
  restartWindowMs?: number;
  restartDelayMs?: number;
}

export class EngineStoppedError extends Error {
  override readonly name = 'EngineStoppedError';
}

export class EngineClient {
  private child: ChildProcess | undefined;
  private connection: MessageConnection | undefined;
  private stopping = false;
  private restarts: number[] = [];
  private lastStderr: string[] = [];
  private readonly handlers: Array<(c: MessageConnection) => void> = [];
  private ready: Promise<MessageConnection> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  state: ClientState = 'stopped';

  constructor(private readonly options: EngineClientOptions) {}

  /** Registers a notification handler that survives restarts. */
  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): void {
    const add = (c: MessageConnection) => void c.onNotification(type, handler);
    this.handlers.push(add);
    if (this.connection) add(this.connection);
  }

  /** Starts the server if it is not running; resolves once requests can be sent. */
  start(): Promise<MessageConnection> {
    this.stopping = false;
    this.ready ??= this.spawn();
    return this.ready;
  }

  async request<P, R>(type: RequestType<P, R, void>, params: P, token?: CancellationToken): Promise<R> {
    const connection = await this.start();
    return token ? connection.sendRequest(type, params, token) : connection.sendRequest(type, params);
  }

  /** Stops the server (stdin closes, it shuts down cleanly; killed after 3 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.connection?.dispose();
    this.connection = undefined;
    this.ready = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    this.setState('stopped');
  }

  /** Stops and starts again (after a setting change or to rebuild the store). */
  async restart(): Promise<void> {
    await this.stop();
    this.restarts = [];
    await this.start();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async spawn(): Promise<MessageConnection> {
    this.setState(this.restarts.length ? 'restarting' : 'starting');
    const launch = this.options.launch();
    const child = spawn(launch.command, launch.args, { cwd: launch.cwd, env: launch.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    this.child = child;
    this.lastStderr = [];
    let buffered = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) {
        this.lastStderr = [...this.lastStderr.slice(-4), l];
        this.options.onLog?.(l);
      }
    });
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    // A closed pipe after the child died surfaces as a write error; the exit handler reports it.
    child.stdin?.on('error', () => undefined);
    connection.onError(() => undefined);
    for (const add of this.handlers) add(connection);
    connection.listen();
    this.connection = connection;
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    const started = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', (error) => {
        this.options.onLog?.(`could not start the engine: ${error.message}`);
        resolve(false);
      });
    });
    if (!started) {
      this.ready = undefined;
      this.setState('failed', `Could not start the Engram engine (${launch.command}).`);
      throw new EngineStoppedError('the Engram engine could not be started');
    }
    this.options.onConnected?.(connection);
    this.setState('running');
    return connection;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.connection?.dispose();
    this.connection = undefined;
    this.ready = undefined;
    this.child = undefined;
    if (this.stopping) return;
    const now = Date.now();
    const windowMs = this.options.restartWindowMs ?? 60_000;
    this.restarts = [...this.restarts.filter((t) => now - t < windowMs), now];
    const why = `${signal ? `signal ${signal}` : `exit code ${code}`}${this.lastStderr.length ? `: ${this.lastStderr.at(-1)}` : ''}`;
    if (this.restarts.length > (this.options.maxRestarts ?? 4)) {
      this.setState('failed', `The Engram engine keeps stopping (${why}). Run "Engram: Index Workspace" to try again.`);
      return;
    }
    this.setState('restarting', `The Engram engine stopped (${why}); restarting it.`);
    const delay = (this.options.restartDelayMs ?? 500) * 2 ** (this.restarts.length - 1);
    this.restartTimer = setTimeout(() => void this.start().catch(() => undefined), delay);
  }

  private setState(state: ClientState, message?: string): void {
    this.state = state;
    this.options.onState?.(state, message);
  }
}
