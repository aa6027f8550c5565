// `npm run test:vscode`: integration tests in a downloaded VS Code (needs network to
// update.code.visualstudio.com; the offline e2e in test/e2e covers CI here).
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'out/vscode-test/**/*.vscode.js',
  version: '1.100.3',
  workspaceFolder: 'test/vscode/fixture',
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  mocha: { ui: 'tdd', timeout: 120_000 },
});
