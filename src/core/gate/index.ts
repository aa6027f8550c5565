export { recall } from './recall.js';
export { DEFAULT_MAX_BLOCKS, Gate, type GateDecision, type GateOptions, type GateState, type BlockText } from './gate.js';
export { ModelGate, openGate, type GateInput, type GateScorer } from './scorer.js';
