// Lit (under vscode-elements) adds this nonce to any <style> it must create, so the
// strict CSP holds. Imported first, before any element module runs.
const script = document.currentScript as HTMLScriptElement | null;
(window as unknown as { litNonce?: string }).litNonce = script?.nonce ?? document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce ?? '';
export {};
