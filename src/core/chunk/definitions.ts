// What counts as a definition in the parse trees of the supported grammars, and its name.
// Node type names are grammar-specific, so one table serves all languages.
import type { Node } from 'web-tree-sitter';

/** fn: functions and methods; class: types with members (members get `Type.member` names);
 *  ns: namespaces and modules (members keep their own names); var: constants, fields, aliases. */
export type DefKind = 'fn' | 'class' | 'ns' | 'var';

export interface DefInfo {
  kind: DefKind;
  names: string[];
  /** The definition node itself (inside wrappers like `export` or decorators). */
  inner: Node;
}

const DEF_KINDS: Readonly<Record<string, DefKind>> = {
  // functions and methods
  function_declaration: 'fn', generator_function_declaration: 'fn', function_definition: 'fn',
  function_signature: 'fn', method_definition: 'fn', method_declaration: 'fn', method_signature: 'fn',
  abstract_method_signature: 'fn', constructor_declaration: 'fn', compact_constructor_declaration: 'fn',
  destructor_declaration: 'fn', operator_declaration: 'fn', conversion_operator_declaration: 'fn',
  function_item: 'fn', function_signature_item: 'fn', macro_definition: 'fn', method: 'fn',
  singleton_method: 'fn', preproc_function_def: 'fn', delegate_declaration: 'fn',
  // types with members
  class_declaration: 'class', abstract_class_declaration: 'class', class_definition: 'class', class: 'class',
  class_specifier: 'class', struct_specifier: 'class', union_specifier: 'class', enum_specifier: 'class',
  interface_declaration: 'class', trait_declaration: 'class', enum_declaration: 'class',
  record_declaration: 'class', record_struct_declaration: 'class', struct_declaration: 'class',
  annotation_type_declaration: 'class', struct_item: 'class', enum_item: 'class', union_item: 'class',
  trait_item: 'class', impl_item: 'class', module: 'class',
  // namespaces
  namespace_definition: 'ns', namespace_declaration: 'ns', file_scoped_namespace_declaration: 'ns',
  internal_module: 'ns', mod_item: 'ns',
  // constants, variables, fields, type aliases
  lexical_declaration: 'var', variable_declaration: 'var', const_declaration: 'var', var_declaration: 'var',
  type_declaration: 'var', const_item: 'var', static_item: 'var', type_item: 'var',
  type_alias_declaration: 'var', type_definition: 'var', declaration: 'var', field_declaration: 'var',
  public_field_definition: 'var', field_definition: 'var', property_declaration: 'var',
  event_field_declaration: 'var', event_declaration: 'var', indexer_declaration: 'var',
  preproc_def: 'var', alias_declaration: 'var',
};

/** Nodes whose children are walked for symbols although they define nothing themselves. */
export const TRANSPARENT = new Set([
  'preproc_if', 'preproc_ifdef', 'preproc_else', 'preproc_elif', 'preproc_elifdef',
  'linkage_specification', 'declaration_list', 'enum_body_declarations',
]);

const BODY_TYPES = new Set([
  'class_body', 'declaration_list', 'field_declaration_list', 'enum_body', 'interface_body',
  'block', 'statement_block', 'compound_statement', 'body_statement', 'constructor_body',
  'enum_member_declaration_list', 'object_type',
]);

const IDENT_TYPES = new Set([
  'identifier', 'type_identifier', 'field_identifier', 'property_identifier', 'constant', 'name',
  'variable_name', 'qualified_identifier', 'qualified_name', 'scoped_identifier', 'namespace_identifier',
  'destructor_name', 'operator_name', 'scope_resolution', 'private_property_identifier',
]);

const SPEC_TYPES = new Set([
  'variable_declarator', 'const_spec', 'var_spec', 'type_spec', 'type_alias', 'const_element',
  'property_element', 'init_declarator', 'variable_declaration',
]);

/** The definition a top-level or member node makes, or null. `inFunction`: inside a function
 *  body only nested functions and classes count, not local variables. */
export function defInfo(node: Node, inFunction: boolean): DefInfo | null {
  switch (node.type) {
    case 'export_statement': {
      const inner = node.childForFieldName('declaration') ?? firstDef(node, inFunction);
      return inner ? defInfo(inner, inFunction) : null;
    }
    case 'decorated_definition': {
      const inner = node.childForFieldName('definition');
      return inner ? defInfo(inner, inFunction) : null;
    }
    case 'template_declaration':
    case 'ambient_declaration':
      return firstDefInfo(node, inFunction);
    case 'expression_statement': {
      const first = node.namedChildren[0];
      if (!first) return null;
      if (first.type === 'internal_module' || first.type === 'module') return defInfo(first, inFunction);
      if (first.type === 'assignment' && !inFunction) return assignment(first);
      return null;
    }
    case 'assignment': // Ruby constants
      return inFunction ? null : assignment(node);
  }
  const kind = DEF_KINDS[node.type];
  if (kind === undefined || (inFunction && (kind === 'var' || kind === 'ns'))) return null;
  // Python/Ruby `module` nodes are whole files or Ruby modules; the file root never gets here.
  const names = namesOf(node);
  if (kind === 'var' && names.length === 0) return null;
  return { kind, names, inner: node };
}

function firstDef(node: Node, inFunction: boolean): Node | null {
  for (const c of node.namedChildren) if (c && defInfo(c, inFunction)) return c;
  return null;
}

function firstDefInfo(node: Node, inFunction: boolean): DefInfo | null {
  for (const c of node.namedChildren) {
    const d = c ? defInfo(c, inFunction) : null;
    if (d) return d;
  }
  return null;
}

/** `X = ...` at module or class level (Python identifiers, Ruby constants). */
function assignment(node: Node): DefInfo | null {
  const left = node.childForFieldName('left');
  if (!left || (left.type !== 'identifier' && left.type !== 'constant')) return null;
  return { kind: 'var', names: [clean(left.text)], inner: node };
}

/** The member list or statement block of a definition, if it has one. */
export function bodyOf(node: Node): Node | null {
  const body = node.childForFieldName('body');
  if (body) return body;
  // `const f = () => {...}`: the body of the declared value
  const first = node.namedChildren.find((c) => c?.type === 'variable_declarator') ?? null;
  const value = first?.childForFieldName('value');
  if (value) return value.childForFieldName('body') ?? (BODY_TYPES.has(value.type) || value.type === 'object' || value.type === 'class' ? value : null);
  for (let i = node.namedChildCount - 1; i >= 0; i--) {
    const c = node.namedChild(i);
    if (c && BODY_TYPES.has(c.type)) return c;
  }
  return null;
}

function namesOf(node: Node): string[] {
  if (node.type === 'method_declaration') {
    const recv = node.childForFieldName('receiver'); // Go
    const name = node.childForFieldName('name');
    if (recv && name) {
      const t = recv.descendantsOfType('type_identifier')[0];
      return [t ? `${t.text}.${name.text}` : clean(name.text)];
    }
  }
  if (node.type === 'impl_item') {
    const t = node.childForFieldName('type');
    return t ? [clean(baseType(t).text)] : [];
  }
  const name = node.childForFieldName('name');
  if (name) return [clean(name.text)];
  const declarators = node.childrenForFieldName('declarator');
  if (declarators.length > 0) {
    const out: string[] = [];
    for (const d of declarators) {
      const n = d ? declaratorName(d) : null;
      if (n) out.push(n);
    }
    return out;
  }
  const out: string[] = [];
  collectSpecNames(node, 0, out);
  return out;
}

function baseType(t: Node): Node {
  if (t.type === 'generic_type') return t.childForFieldName('type') ?? t;
  return t;
}

/** C-family declarators nest (pointer, function, array, init): follow them to the name. */
function declaratorName(d: Node): string | null {
  let cur: Node | null = d;
  for (let depth = 0; cur && depth < 8; depth++) {
    if (IDENT_TYPES.has(cur.type)) return clean(cur.text);
    const name = cur.childForFieldName('name');
    if (name && IDENT_TYPES.has(name.type)) return clean(name.text);
    cur = cur.childForFieldName('declarator') ?? cur.namedChildren.find((c) => c !== null && IDENT_TYPES.has(c.type)) ?? null;
  }
  return null;
}

function collectSpecNames(node: Node, depth: number, out: string[]): void {
  for (const c of node.namedChildren) {
    if (!c || !SPEC_TYPES.has(c.type)) continue;
    if (c.type === 'variable_declaration') {
      if (depth < 1) collectSpecNames(c, depth + 1, out); // C#: type, then declarators
      continue;
    }
    const n = c.childForFieldName('name') ?? c.childForFieldName('declarator') ?? c.namedChildren.find((x) => x !== null && IDENT_TYPES.has(x.type)) ?? null;
    if (n && IDENT_TYPES.has(n.type)) out.push(clean(n.text));
    else if (n) {
      const dn = declaratorName(n);
      if (dn) out.push(dn);
    }
  }
}

function clean(name: string): string {
  return name.replace(/::/g, '.').replace(/\s+/g, '').replace(/^\$/, '').slice(0, 100);
}
