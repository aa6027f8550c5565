// Questions that ask for an explanation in words ("how does X work", "what does the Y rule
// check"). The built-in extractive reader points at code (a name, a value, a place) and never
// writes prose: its span for such a question is a guess ("10" for "what does the semi-spacing
// rule check?"), so the reasoner answers them with the evidence it found and says so.

const ASKS_FOR_WORDS: readonly RegExp[] = [
  // how / why, but not the counts and sizes a span can hold
  /^\s*(?:how|why)\b(?!\s+(?:many|much|long|big|large|old)\b)/i,
  /^\s*(?:(?:can|could|would)\s+you\s+)?(?:please\s+)?(?:explain|describe|summari[sz]e|walk\s+me\s+through|tell\s+me\s+about|give\s+(?:me\s+)?an?\s+overview)\b/i,
  // what does X do / mean / check / handle ...
  /^\s*what\s+(?:does|do|did|will|would)\b.*\b(?:do|mean|check|handle|represent|control|affect|achieve)\s*\??\s*$/i,
  /^\s*what\s+(?:is|are)\s+the\s+(?:purpose|role|point|idea|meaning|difference|differences|relationship|responsibility)\b/i,
  /^\s*what\s+(?:happens|is\s+.+\s+used\s+for|are\s+.+\s+used\s+for)\b/i,
];

/** True when the question asks for an explanation rather than a name, a value or a place. */
export function asksForWords(question: string): boolean {
  return ASKS_FOR_WORDS.some((re) => re.test(question));
}

/** How the built-in reasoner's answer to such a question starts, before the evidence. */
export const WORDS_NOTE =
  'The built-in reader points at code (names, values, places) and does not write explanations; ' +
  'a generative reasoner (an OpenAI-compatible server or an ONNX decoder) answers in words. The most relevant code it found: ';
