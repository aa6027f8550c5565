// The HTML shell of a webview: a strict CSP with a fresh nonce per load, scripts and
// styles only from the built webview folder, no inline handlers. No `vscode` import.
import { randomBytes } from 'node:crypto';

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export interface ShellOptions {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  title: string;
  scriptUri: string;
  styleUris: string[];
  /** Class of <body>, for the script to know which view it is. */
  view: 'sidebar' | 'inspector';
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function webviewHtml(o: ShellOptions): string {
  // style-src needs the nonce for the web components' adopted stylesheets fallback and
  // cspSource for our CSS files; fonts (codicons) come from the webview folder only.
  const csp = [
    `default-src 'none'`,
    `img-src ${o.cspSource} data:`,
    `font-src ${o.cspSource}`,
    `style-src ${o.cspSource} 'nonce-${o.nonce}'`,
    `script-src 'nonce-${o.nonce}'`,
  ].join('; ');
  // The first stylesheet is codicons: vscode-elements finds it by this id for its icons.
  const styles = o.styleUris
    .map((u, i) => `<link rel="stylesheet" href="${escapeAttr(u)}" nonce="${o.nonce}"${i === 0 ? ' id="vscode-codicon-stylesheet"' : ''}>`)
    .join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    ${styles}
    <title>${escapeAttr(o.title)}</title>
  </head>
  <body class="${o.view}">
    <main id="app" aria-live="polite"></main>
    <script nonce="${o.nonce}" src="${escapeAttr(o.scriptUri)}"></script>
  </body>
</html>`;
}
