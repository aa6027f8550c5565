// The workspace scanner: which files become memory, and why the others do not.
export { Scanner, isSkipped, type ScanOptions, type WalkResult } from './scanner.js';
export { IGNORE_FILE_NAMES, DEFAULT_EXCLUDES } from './ignoreRules.js';
export { isSecretPath } from './secrets.js';
