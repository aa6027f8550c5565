export { ask, checkQuestion, checkWorkspace, MAX_QUESTION_BYTES, type AskContext, type AskOptions } from './ask.js';
export { verifyCitations, overlaps, type Span } from './citations.js';
export { evaluate, isNotFound, readQaFile, normalizeAnswer, scoreAnswer, type EvalHooks, type EvalReport, type QaItem, type QuestionReport, type WordsKept } from './eval.js';
export { referencesTitle } from './references.js';
export { SourceLines } from './source.js';
export { interpretQuestion, type Interpreted } from './interpret.js';
