// A full run rewrites the README's benchmark section, so the numbers there are always the ones in
// docs/bench.json and docs/bench.png, never hand-copied.
import * as fs from 'node:fs';

const START = '<!-- bench-table -->';
const END = '<!-- /bench-table -->';

export function updateReadme(readmeFile: string, table: string, date: string): void {
  const readme = fs.readFileSync(readmeFile, 'utf8');
  const start = readme.indexOf(START);
  if (start < 0) throw new Error(`${readmeFile} has no ${START} marker`);
  const end = readme.indexOf(END, start);
  const section = [
    START,
    `Last full run ${date.slice(0, 10)} (\`docs/bench.json\`):`,
    '',
    '```text',
    table,
    '```',
    '',
    '![Benchmark chart: engine vs transformers.js](docs/bench.png)',
    END,
  ].join('\n');
  fs.writeFileSync(readmeFile, readme.slice(0, start) + section + (end < 0 ? readme.slice(start + START.length) : readme.slice(end + END.length)));
}
