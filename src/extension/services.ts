// What the views and commands share.
import type * as vscode from 'vscode';
import type { Asks } from './asks.js';
import type { EngineClient } from './engine-client.js';
import type { Indexing } from './indexing.js';
import type { EngramSettings } from './settings.js';
import type { StatusModel } from './status-bar.js';

export interface Services {
  extensionUri: vscode.Uri;
  /** The workspace folder the engine serves (the first one). */
  root: vscode.Uri;
  client: EngineClient;
  asks: Asks;
  indexing: Indexing;
  status: StatusModel;
  log: vscode.LogOutputChannel;
  settings: () => EngramSettings;
}
