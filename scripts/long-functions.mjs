// Lists the functions in src/ longer than 100 lines (the project's limit),
// counting from the line of their declaration to that of their closing brace.
// Usage: node scripts/long-functions.mjs [limit]; exits 1 if any is found.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const limit = Number(process.argv[2] ?? 100);
const files = fs.readdirSync('src', { recursive: true }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => path.join('src', f));
const long = [];
for (const file of files) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (last - first + 1 > limit) {
        const name = node.name?.getText() ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText() : '(anonymous)');
        long.push(`${file}:${first + 1} ${name}: ${last - first + 1} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
for (const l of long) console.log(l);
process.exit(long.length ? 1 : 0);
