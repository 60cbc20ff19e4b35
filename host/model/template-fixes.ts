// Where @huggingface/jinja (0.5.x) renders the real chat templates differently from Python's jinja2,
// found by test/chat-template.test.ts against jinja2's output (scripts/golden/chat_template_goldens.py):
//  - str.strip / lstrip / rstrip ignore their `chars` argument (SmolLM3: content.lstrip("\n")
//    must keep a leading space) and strip JavaScript's whitespace, not Python's (U+0085, U+001C..1F
//    are whitespace to Python, U+FEFF is not);
//  - the trim filter likewise strips JavaScript's whitespace;
//  - raise_exception's message comes out as "[object Object]"-like text, and strftime_now formats
//    month names in the process's locale and cannot be pinned (its globals cannot be replaced at
//    render time): references to both are renamed to globals wisp passes (RENAMED_GLOBALS).
// The fix rewrites the parsed template once: `x.strip(c)` becomes `__py_strip(x, c)` (same for
// lstrip / rstrip and `x | trim`), with Python's semantics in PYTHON_STRING_HELPERS. Both are
// upstream bugs; when a release fixes them, this file shrinks.

type Node = Record<string, unknown> & { type?: string };

const METHODS: Record<string, string> = { strip: '__py_strip', lstrip: '__py_lstrip', rstrip: '__py_rstrip' };

/** Template globals wisp provides itself, under these names. */
export const RENAMED_GLOBALS: Record<string, string> = { raise_exception: '__wisp_raise_exception', strftime_now: '__wisp_strftime_now' };

/** Python's str.isspace characters. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING = new RegExp(`^[${PY_SPACE}]+`, 'u');
const TRAILING = new RegExp(`[${PY_SPACE}]+$`, 'u');

function stripWith(s: unknown, chars: unknown, left: boolean, right: boolean, name: string): string {
  if (typeof s !== 'string') throw new Error(`${name}: not a string (${s === null ? 'none' : typeof s})`);
  if (chars === undefined || chars === null) {
    let out = s;
    if (left) out = out.replace(LEADING, '');
    if (right) out = out.replace(TRAILING, '');
    return out;
  }
  const set = new Set(Array.from(String(chars)));
  const cps = Array.from(s);
  let a = 0, b = cps.length;
  if (left) while (a < b && set.has(cps[a])) a++;
  if (right) while (b > a && set.has(cps[b - 1])) b--;
  return cps.slice(a, b).join('');
}

/** Globals the rewritten template calls. */
export const PYTHON_STRING_HELPERS = {
  __py_strip: (s: unknown, chars?: unknown) => stripWith(s, chars, true, true, 'strip'),
  __py_lstrip: (s: unknown, chars?: unknown) => stripWith(s, chars, true, false, 'lstrip'),
  __py_rstrip: (s: unknown, chars?: unknown) => stripWith(s, chars, false, true, 'rstrip'),
};

/** Rewrites a parsed template (Template.parsed) in place; see the header for what and why. */
export function fixParsedTemplate(program: unknown): void {
  visit(program as Node);
}

function visit(node: Node): void {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'Identifier' && typeof node.value === 'string' && Object.hasOwn(RENAMED_GLOBALS, node.value)) {
    node.value = RENAMED_GLOBALS[node.value];
  }
  if (node.type === 'CallExpression') rewriteMethodCall(node);
  if (node.type === 'FilterExpression') rewriteTrimFilter(node);
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) value.forEach((v) => visit(v as Node));
    else if (value && typeof value === 'object') visit(value as Node);
  }
}

/** An Identifier node made from an existing one (the parser's classes are not exported). */
function identifierLike(model: Node, name: string): Node {
  return Object.assign(Object.create(Object.getPrototypeOf(model)) as Node, { type: 'Identifier', value: name });
}

function rewriteMethodCall(call: Node): void {
  const callee = call.callee as Node;
  if (callee?.type !== 'MemberExpression' || callee.computed) return;
  const property = callee.property as Node;
  const helper = property?.type === 'Identifier' ? METHODS[property.value as string] : undefined;
  if (!helper) return;
  call.callee = identifierLike(property, helper);
  call.args = [callee.object, ...(call.args as Node[])];
}

function rewriteTrimFilter(expr: Node): void {
  const filter = expr.filter as Node;
  const name = filter?.type === 'Identifier' ? filter : filter?.type === 'CallExpression' ? (filter.callee as Node) : undefined;
  if (name?.type !== 'Identifier' || name.value !== 'trim') return;
  const args = filter.type === 'CallExpression' ? (filter.args as Node[]) : [];
  const operand = expr.operand;
  delete expr.operand;
  delete expr.filter;
  Object.assign(expr, { type: 'CallExpression', callee: identifierLike(name, '__py_strip'), args: [operand, ...args] });
}
