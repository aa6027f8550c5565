// Every prompt Engram sends to a generative reasoner, for every backend, lives here.
// A prompt is built from slots so each backend can fit it into its own window:
// the instructions and the question are kept, the memory is bounded, the code fills
// what is left.
import type { ChatMessage } from '../models/index.js';

export interface PromptSlots {
  question: string;
  memory: string;
  /** The code to read: one block (memory loop) or several (full/rag answers). */
  code: string;
}

/** A prompt as a fixed frame around the slots. */
export interface Prompt {
  system: string;
  user: (slots: PromptSlots) => string;
  /** Where the model's reply starts (the decoder backend appends it to the prompt). */
  replyPrefix: string;
}

/** The model ends its memory update with one of these. */
export const FOUND = 'STATUS: found';
export const CONTINUE = 'STATUS: continue';

export const READ_PROMPT: Prompt = {
  system:
    'You answer questions about a code repository by reading it one block at a time. ' +
    'Lines look like `12| code`: 12 is the line number in the file named above the block. ' +
    'Keep short notes: the facts that help answer the question, each with path:line. ' +
    `Drop what does not help. End with "${FOUND}" when the notes answer the question, else "${CONTINUE}".`,
  user: ({ question, memory, code }) => `Question: ${question}\n\nNotes so far:\n${memory || '(none)'}\n\nCode:\n${code}\n\nRewrite the notes.`,
  replyPrefix: 'Notes:\n',
};

export const ANSWER_PROMPT: Prompt = {
  system:
    'You answer questions about a code repository from your notes and the code shown. ' +
    'Reply with one line "ANSWER: <short answer>" (a name, value or path; "not found" when the code does not say), ' +
    'then one line "CITATIONS: path:start-end, ..." naming the lines that show it.',
  user: ({ question, memory, code }) =>
    `Question: ${question}\n\nNotes:\n${memory || '(none)'}${code ? `\n\nCode:\n${code}` : ''}\n\nAnswer the question.`,
  replyPrefix: 'ANSWER:',
};

/**
 * Terse frames for small windows (a few hundred tokens, such as the test fixture):
 * used when the full instructions would take more than a quarter of the window.
 */
export const READ_PROMPT_COMPACT: Prompt = {
  system: `Notes for the question; end "${FOUND}" or "${CONTINUE}".`,
  user: ({ question, memory, code }) => `Q: ${question}\nN: ${memory}\n${code}`,
  replyPrefix: '\nN:',
};

export const ANSWER_PROMPT_COMPACT: Prompt = {
  system: 'Answer, then CITATIONS: path:start-end.',
  user: ({ question, memory, code }) => `Q: ${question}\nN: ${memory}${code ? `\n${code}` : ''}`,
  replyPrefix: '\nANSWER:',
};

/**
 * The messages of a prompt: a system message and a user message, for every backend.
 * A chat server cannot be handed the start of the reply, so there the user message
 * asks for it; the decoder backend writes `replyPrefix` into the prompt itself
 * (`replyPrefilled`).
 */
export function promptMessages(prompt: Prompt, slots: PromptSlots, replyPrefilled: boolean): ChatMessage[] {
  const user = prompt.user(slots);
  return [
    { role: 'system', content: prompt.system },
    { role: 'user', content: replyPrefilled ? user : `${user}\nStart your reply with "${prompt.replyPrefix.trim()}".` },
  ];
}

/**
 * The plain-text prompt for a decoder without a chat template (such as the test fixture):
 * the messages' texts one after the other, a blank line apart, then the reply prefix.
 */
export function plainPrompt(messages: ChatMessage[], replyPrefix: string): string {
  return `${messages.map((m) => m.content).join('\n\n')}\n\n${replyPrefix}`;
}

/** A block as the code slot shows it: its location, then its numbered lines. */
export function codeHeader(path: string, startLine: number, endLine: number): string {
  return `--- ${path}:${startLine}-${endLine}\n`;
}
