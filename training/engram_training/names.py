"""The code names a question asks about, and whether a line says or defines one of them.

Mirrors `namesIn`, `mentionsAny` and `definesAny` in src/core/compress/identifiers.ts: the
reader ranks spans on lines that define what the question names first, then lines that use
it, then look-alike lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

WORD = re.compile(r"[^\W\d][\w$]*|\$[\w$]*")
QUOTED = re.compile(r"`([^`\n]{1,200})`")
CODE_SHAPED = re.compile(r"[_$]|[a-z][A-Z]|[^\W\d_][0-9]")
IDENT_CHAR = re.compile(r"[\w$]")
ONE_IDENTIFIER = re.compile(r"^\s*[^\W\d][\w$]*\s*$|^\s*\$[\w$]*\s*$")
# KEYWORDS of src/core/compress/identifiers.ts: never a name, even alone in backticks
KEYWORDS = frozenset((
    "const let var function return new import export default class interface type public private protected static "
    "readonly async await void def self fn pub mut true false null undefined none nil end begin if else for while"
).split())
# STOP_WORDS of src/core/compress/identifiers.ts, word for word
STOP_WORDS = frozenset((
    "a an the is are was were be been being am do does did done doing have has had "
    "where what which who whom whose when why how there here this that these those "
    "it its of in on at to from by for with without into onto about as and or not no nor "
    "if else then than so but can could should would will shall may might must "
    "i me my we our you your he she they them their his her "
    "any all some each every get set find show tell use used uses using "
    "const let var function return new import export default class interface type "
    "public private protected static readonly async await void def self fn pub mut "
    "true false null undefined none nil end begin"
).split())


def names_in(question: str) -> list[str]:
    """Identifiers in backticks, and words shaped like code (snake_case, camelCase, $x, v2); a stop
    word is a name only alone in backticks (`not`), never a keyword."""
    out: dict[str, None] = {}
    for m in QUOTED.finditer(question):
        quoted = m.group(1)
        for w in WORD.findall(quoted):
            low = w.lower()
            if low not in STOP_WORDS or (ONE_IDENTIFIER.match(quoted) and low not in KEYWORDS):
                out[w] = None
    for w in WORD.findall(question):
        if CODE_SHAPED.search(w):
            out[w] = None
    return list(out)


def mentions_any(line: str, names: Sequence[str]) -> bool:
    """`line` holds one of `names` as a whole identifier, not inside a longer one."""
    return next(_occurrences(line, names), None) is not None


def name_ranges(line: str, names: Sequence[str]) -> list[tuple[int, int]]:
    """Where `line` holds one of `names` as a whole identifier: [start, end) in UTF-8 bytes,
    in line order. Mirrors nameRanges in identifiers.ts."""
    out = []
    for at, n in _occurrences(line, names):
        start = len(line[:at].encode())
        out.append((start, start + len(n.encode())))
    return sorted(out)


def _occurrences(line: str, names: Sequence[str]) -> Iterator[tuple[int, str]]:
    """Each whole-identifier occurrence of one of `names` in `line`: its character index and the name."""
    for n in names:
        at = line.find(n) if n else -1
        while at >= 0:
            before = line[at - 1] if at > 0 else ""
            after = line[at + len(n)] if at + len(n) < len(line) else ""
            if not IDENT_CHAR.match(before or " ") and not IDENT_CHAR.match(after or " "):
                yield at, n
            at = line.find(n, at + 1)


DECL = (r"(?:export|default|async|static|public|private|protected|abstract|readonly|function\*?|def|class|const|let|var|"
        r"val|interface|type|enum|struct|fn|func|pub)")


METHOD_WORDS = r"(?:async|static|public|private|protected|override|readonly|abstract|get|set)"
SPREAD_HEAD_LINES = 12  # lines after `name(` that a head's parameters may take
HEAD_END = re.compile(r"^\s*(?::[^;={}]*)?\{\s*$")


IMPORT = re.compile(r"^\s*(?:import\b|from\s+\S+\s+import\b|export\s+(?:\*|\{[^}]*\})\s+from\b|(?:const|let|var)\s+.*=\s*require\s*\()")


def is_import_line(line: str) -> bool:
    """A line importing names (`import`, `from m import`, `export {..} from`, `require(`): it defines none.
    Mirrors isImportLine in src/core/compress/identifiers.ts."""
    return IMPORT.match(line) is not None


def defines_any(line: str, names: Sequence[str], at: int | None = None, lines: Sequence[str] | None = None) -> bool:
    """`line` defines one of `names`: declaration words then the name, an assignment to it, or a method head.
    Given the line's index in `lines`, a method head spread over lines counts too (`x(`, its parameters on
    the lines after it, then `): T {`); `const X = require("./X")` does not (it binds what another file
    defines). Mirrors definer in src/core/compress/identifiers.ts."""
    if is_import_line(line):
        return False
    for n in names:
        e = re.escape(n)
        if re.match(rf"^\s*(?:{DECL}\s+)+{e}(?![\w$])", line):
            return True
        if re.match(rf"^\s*(?:self\.|this\.)?{e}\s*(?::[^=]*)?=(?!=)", line):
            return True
        if re.match(rf"^\s*{e}\s*\(.*\)\s*(?::[^{{]*)?\{{\s*$", line):
            return True
        if (at is not None and lines is not None and re.match(rf"^\s*(?:{METHOD_WORDS}\s+)*{e}\s*(?:<[^()]*>)?\(", line)
                and _spread_head(lines, at)):
            return True
    return False


def _spread_head(lines: Sequence[str], at: int) -> bool:
    """The parenthesis opened on lines[at] closes within a few lines, and a body's brace follows it."""
    depth, opened = 0, False
    for i in range(at, min(len(lines), at + 1 + SPREAD_HEAD_LINES)):
        line = lines[i]
        for c, ch in enumerate(line):
            if ch == "(":
                depth += 1
                opened = True
            elif ch == ")":
                depth -= 1
            if opened and depth == 0:
                return i > at and bool(HEAD_END.match(line[c + 1:]))
    return False


def line_prior(line: str, names: Sequence[str], name_penalty: float, mention_penalty: float) -> float:
    """0 for a line that defines a name (or when there are none), -mention_penalty for one that uses it, else -name_penalty."""
    if not names or defines_any(line, names):
        return 0.0
    return -mention_penalty if mentions_any(line, names) else -name_penalty
