// The structure rules a reader can check by hand, checked here:
// - no function in src/ is longer than 100 lines (declaration to closing brace);
// - no verb in src/container/ imports another verb (the verbs are those
//   src/container/README.md lists; run.ts may import create and start).
// Usage: node scripts/check-structure.mjs; prints what breaks a rule, exits 1 if anything does.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const LIMIT = 100;
const problems = [];

const files = fs.readdirSync('src', { recursive: true }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => path.join('src', f));
for (const file of files) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const lines = source.getLineAndCharacterOfPosition(node.getEnd()).line - first + 1;
      if (lines > LIMIT) {
        const name = node.name?.getText() ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText() : '(anonymous)');
        problems.push(`${file}:${first + 1} ${name}: ${lines} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

const readme = fs.readFileSync('src/container/README.md', 'utf8');
const verbSection = readme.slice(readme.indexOf('Verbs'), readme.indexOf('Shared modules'));
const verbs = new Set([...verbSection.matchAll(/^- `([a-z-]+\.ts)`/gm)].map((m) => m[1]));
if (!verbs.size) problems.push('src/container/README.md: no verbs listed');
const ALLOWED = { 'run.ts': ['create.ts', 'start.ts'] };
for (const verb of verbs) {
  const text = fs.readFileSync(path.join('src/container', verb), 'utf8');
  for (const m of text.matchAll(/(?:from |import\()'\.\/([a-z-]+)\.js'/g)) {
    const target = `${m[1]}.ts`;
    if (verbs.has(target) && !(ALLOWED[verb] ?? []).includes(target)) problems.push(`src/container/${verb} imports the verb ${target}`);
  }
}

for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
