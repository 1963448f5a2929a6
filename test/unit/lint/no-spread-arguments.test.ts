// Guards the capacity rule of the guide: never spread an array into a call's arguments
// (`push(...xs)`, `Math.max(...xs)`, `String.fromCharCode(...xs)`): with 589,824 rules
// such a call throws RangeError (stack size). Parses every file of src/ with the
// TypeScript compiler and reports each spread argument with its place.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'generated') for (const file of sourceFiles(path)) found.push(file);
    } else if (entry.name.endsWith('.ts')) {
      found.push(path);
    }
  }
  return found;
}

/** `file:line: text` of every spread element that is an argument of a call or `new`. */
export function spreadArguments(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const hits: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isSpreadElement(node) && (ts.isCallExpression(node.parent) || ts.isNewExpression(node.parent))) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
      hits.push(`${fileName}:${line + 1}: ${node.parent.getText(source).slice(0, 80)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return hits;
}

test('the checker finds spreads into arguments and nothing else', (t) => {
  const sample = [
    'xs.push(...ys);',
    'const m = Math.max(...cells);',
    'new Set(...parts);',
    'const a = [...xs];',
    'const o = { ...obj };',
    'function f(...rest: number[]) { return rest; }',
    'g(a, b);',
  ].join('\n');
  t.deepEqual(
    spreadArguments('sample.ts', sample).map((hit) => hit.split(':')[1]),
    ['1', '2', '3'],
  );
});

test('no file of src/ spreads an array into function arguments', (t) => {
  const hits: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const name = relative(ROOT, file);
    for (const hit of spreadArguments(name, readFileSync(file, 'utf8'))) hits.push(hit);
  }
  t.deepEqual(hits, [], `use a loop instead:\n${hits.join('\n')}`);
});
