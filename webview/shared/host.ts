// The webview's side of the message channel, typed by the shared protocol.
declare function acquireVsCodeApi(): { postMessage(msg: unknown): void; getState(): unknown; setState(state: unknown): void };

const api = acquireVsCodeApi();

export function post<T extends { type: string }>(msg: T): void {
  api.postMessage(msg);
}

export function onMessage<T>(handler: (msg: T) => void): void {
  // Messages come only from our extension host (the webview's own channel).
  window.addEventListener('message', (e: MessageEvent<T>) => handler(e.data));
}

export const getState = (): unknown => api.getState();
export const setState = (state: unknown): void => api.setState(state);
