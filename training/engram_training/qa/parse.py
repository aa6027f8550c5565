"""Facts about a source file: definitions, parameters with defaults, calls, docstrings,
literal constants. Python through its own `ast`; JavaScript and TypeScript through
tree-sitter. Line numbers are 1-based and inclusive, as in evidence ranges."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Language, Node, Parser


@dataclass
class Param:
    name: str
    default: str | None
    start: int
    end: int


@dataclass
class Definition:
    name: str
    kind: str  # "function" | "method" | "class"
    path: str
    start: int
    end: int
    owner: str | None = None
    params: list[Param] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)  # (callee name, line)
    doc: str | None = None
    via_assignment: bool = False  # `const f = () => ...`: the name is also assigned


@dataclass
class Constant:
    name: str
    value: str  # literal source text, string quotes removed
    path: str
    line: int


@dataclass
class FileFacts:
    path: str
    lang: str
    text: str
    defs: list[Definition] = field(default_factory=list)
    constants: list[Constant] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


MAX_LITERAL = 40


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"`":
        return s[1:-1]
    return s


def _short_literal(text: str | None) -> bool:
    return text is not None and 0 < len(text) <= MAX_LITERAL and "\n" not in text


# ---------------------------------------------------------------- Python


def _py_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, bytes)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    return False


def _py_default_ok(node: ast.AST) -> bool:
    return _py_literal(node) or isinstance(node, (ast.Name, ast.Attribute)) or (
        isinstance(node, (ast.Tuple, ast.List, ast.Dict)) and not getattr(node, "elts", getattr(node, "keys", [1]))
    )


def parse_python(path: str, text: str) -> FileFacts:
    facts = FileFacts(path, "python", text)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return facts

    def seg(node: ast.AST) -> str | None:
        return ast.get_source_segment(text, node)

    # `m.f(...)` calls the function f of another file only when m names an imported module;
    # on any other object (`out.decode()` on bytes) f is a method no name lookup can resolve.
    imported = {a.asname or a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}

    def callee(f: ast.expr) -> str | None:
        if isinstance(f, ast.Name):
            return f.id
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in imported:
            return f.attr
        return None

    def visit(body: list[ast.stmt], owner: str | None) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                d = Definition(node.name, "method" if owner else "function", path, node.lineno,
                               node.end_lineno or node.lineno, owner=owner, doc=ast.get_docstring(node))
                a = node.args
                positional = a.posonlyargs + a.args
                defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
                pairs = list(zip(positional, defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
                for arg, default in pairs:
                    text_default = seg(default) if default is not None and _py_default_ok(default) else None
                    end = (default.end_lineno if default is not None else arg.end_lineno) or arg.lineno
                    d.params.append(Param(arg.arg, text_default if _short_literal(text_default) else None,
                                          arg.lineno, end))
                # The body's calls: decorators and parameter defaults run when the function is
                # defined, not when it is called (`@replaced_by_pep8(...)` is no call of the synonym).
                for sub in (n for stmt in node.body for n in ast.walk(stmt)):
                    if isinstance(sub, ast.Call):
                        name = callee(sub.func)
                        if name:
                            d.calls.append((name, sub.lineno))
                facts.defs.append(d)
                visit(node.body, None)
            elif isinstance(node, ast.ClassDef):
                facts.defs.append(Definition(node.name, "class", path, node.lineno,
                                             node.end_lineno or node.lineno, doc=ast.get_docstring(node)))
                visit(node.body, node.name)
            elif owner is None and isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                if len(targets) == 1 and isinstance(targets[0], ast.Name) and value is not None and _py_literal(value):
                    src = seg(value)
                    if _short_literal(src) and node.lineno == node.end_lineno:
                        facts.constants.append(Constant(targets[0].id, _unquote(src or ""), path, node.lineno))
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                # Every branch: six defines `create_unbound_method` under `if PY3:` and again under `else:`.
                visit(getattr(node, "body", []), owner)
                visit(getattr(node, "orelse", []), owner)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, owner)
                visit(getattr(node, "finalbody", []), owner)

    visit(tree.body, None)
    return facts


# ---------------------------------------------------------------- JavaScript / TypeScript


@lru_cache(maxsize=None)
def _parser(lang: str, tsx: bool) -> Parser:
    if lang == "javascript":
        import tree_sitter_javascript as tsj
        return Parser(Language(tsj.language()))
    import tree_sitter_typescript as tst
    return Parser(Language(tst.language_tsx() if tsx else tst.language_typescript()))


_LITERAL_KINDS = {"number", "string", "true", "false", "null"}
_FUNC_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _jsdoc(node: Node) -> str | None:
    target = node
    while target.parent is not None and target.parent.type in (
            "lexical_declaration", "variable_declaration", "export_statement", "variable_declarator"):
        target = target.parent
    prev = target.prev_named_sibling
    if prev is None or prev.type != "comment" or prev.end_point[0] < target.start_point[0] - 1:
        return None
    raw = _text(prev)
    if not raw.startswith("/**"):
        return None
    lines = []
    for line in raw[3:-2].splitlines():
        line = line.strip().lstrip("*").strip()
        if line.startswith("@"):
            break
        lines.append(line)
    doc = " ".join(l for l in lines if l).strip()
    return doc or None


def _params(node: Node) -> list[Param]:
    params: list[Param] = []
    plist = node.child_by_field_name("parameters")
    if plist is None:
        return params
    for p in plist.named_children:
        name_node: Node | None = None
        value: Node | None = None
        if p.type == "assignment_pattern":
            name_node, value = p.child_by_field_name("left"), p.child_by_field_name("right")
        elif p.type in ("required_parameter", "optional_parameter"):
            name_node, value = p.child_by_field_name("pattern"), p.child_by_field_name("value")
        elif p.type == "identifier":
            name_node = p
        if name_node is None or name_node.type != "identifier":
            continue
        default = _text(value) if value is not None and value.type in _LITERAL_KINDS | {"identifier", "member_expression", "unary_expression", "array", "object"} else None
        if default is not None and value is not None and value.type in ("array", "object") and value.named_child_count:
            default = None
        params.append(Param(_text(name_node), default if _short_literal(default) else None,
                            p.start_point[0] + 1, p.end_point[0] + 1))
    return params


def _calls(body: Node) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type in ("call_expression", "new_expression"):
            f = n.child_by_field_name("function") or n.child_by_field_name("constructor")
            # Only plain calls: `x.f()` is a method of whatever x is (`items.map()` is no call of an
            # operator named map), which no name lookup can resolve.
            if f is not None and f.type == "identifier":
                out.append((_text(f), n.start_point[0] + 1))
        stack.extend(n.named_children)
    out.sort(key=lambda c: c[1])
    return out


def parse_js(path: str, text: str, lang: str) -> FileFacts:
    facts = FileFacts(path, lang, text)
    tree = _parser(lang, path.endswith((".tsx", ".jsx")) and lang == "typescript").parse(text.encode("utf-8"))

    def add_function(node: Node, name: str, kind: str, owner: str | None, via_assignment: bool, fn: Node) -> None:
        d = Definition(name, kind, path, node.start_point[0] + 1, node.end_point[0] + 1, owner=owner,
                       params=_params(fn), doc=_jsdoc(node), via_assignment=via_assignment)
        body = fn.child_by_field_name("body")
        if body is not None:
            d.calls = _calls(body)
        facts.defs.append(d)

    stack: list[tuple[Node, str | None, int]] = [(tree.root_node, None, 0)]
    while stack:
        node, owner, depth = stack.pop()
        t = node.type
        if t in ("function_declaration", "generator_function_declaration"):
            name = node.child_by_field_name("name")
            if name is not None:
                add_function(node, _text(name), "function", None, False, node)
        elif t in ("class_declaration", "abstract_class_declaration", "class"):
            name = node.child_by_field_name("name")
            if name is not None:
                facts.defs.append(Definition(_text(name), "class", path, node.start_point[0] + 1,
                                             node.end_point[0] + 1, doc=_jsdoc(node)))
                owner = _text(name)
        elif t == "method_definition":
            name = node.child_by_field_name("name")
            if name is not None and name.type == "property_identifier":
                add_function(node, _text(name), "method", owner, False, node)
        elif t == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if name is not None and name.type == "identifier" and value is not None:
                if value.type in _FUNC_VALUES:
                    add_function(node, _text(name), "function", None, True, value)
                elif (depth <= 3 and value.type in _LITERAL_KINDS - {"null"}
                      and node.parent is not None and node.parent.type == "lexical_declaration"
                      and _text(node.parent).startswith("const")
                      and node.start_point[0] == node.end_point[0]):
                    lit = _text(value)
                    if _short_literal(lit):
                        facts.constants.append(Constant(_text(name), _unquote(lit), path, node.start_point[0] + 1))
        for child in reversed(node.named_children):
            stack.append((child, owner if t != "method_definition" else None, depth + 1))
    facts.defs.sort(key=lambda d: d.start)
    return facts


def parse_file(path: str, lang: str, text: str) -> FileFacts:
    """Facts for one file; languages without a parser here give an empty set of facts."""
    if lang == "python":
        return parse_python(path, text)
    if lang in ("javascript", "typescript"):
        return parse_js(path, text, lang)
    return FileFacts(path, lang, text)


WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
