// src/core must stay pure: no editor, no threads, no host or worker code, so every piece of it
// runs in plain unit tests and could run in the CLI or a web worker unchanged.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const core = join(repo, 'src/core');
const FORBIDDEN_MODULES = ['vscode', 'worker_threads', 'node:worker_threads'];
const FORBIDDEN_FOLDERS = ['src/host', 'src/worker'].map((folder) => join(repo, folder));

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function importedModules(source: string): string[] {
  const pattern = /\b(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]|\brequire\s*\(\s*['"]([^'"]+)['"]/g;
  return [...source.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? match[3]!);
}

describe('core/ boundaries', () => {
  const files = sourceFiles(core);

  it('finds the core sources', () => {
    assert.ok(files.some((file) => file.endsWith('pipeline.ts')));
  });

  for (const file of files) {
    it(`${relative(repo, file)} imports nothing from the editor, threads, host or worker`, () => {
      for (const specifier of importedModules(readFileSync(file, 'utf8'))) {
        assert.ok(!FORBIDDEN_MODULES.includes(specifier), `imports ${specifier}`);
        if (!specifier.startsWith('.')) continue;
        const target = resolve(dirname(file), specifier);
        for (const folder of FORBIDDEN_FOLDERS) assert.ok(!target.startsWith(folder), `imports ${specifier}`);
      }
    });
  }

  it('the import scanner sees the import forms it has to catch', () => {
    const sample = `import * as vscode from 'vscode';\nimport type { X } from "../host/x";\nexport { y } from './y';\nconst w = require('node:worker_threads');\nimport('./lazy');`;
    assert.deepEqual(importedModules(sample), ['vscode', '../host/x', './y', 'node:worker_threads', './lazy']);
  });
});

describe('layering', () => {
  // Only the editor adapters may touch the VS Code API; the engine, client and CLI run without an editor.
  for (const folder of ['src/client', 'src/worker', 'src/protocol.ts', 'src/cli.ts']) {
    it(`${folder} does not import vscode`, () => {
      const path = join(repo, folder);
      const files = path.endsWith('.ts') ? [path] : sourceFiles(path);
      assert.ok(files.length > 0);
      for (const file of files) assert.ok(!importedModules(readFileSync(file, 'utf8')).includes('vscode'), `${relative(repo, file)} imports vscode`);
    });
  }
});

describe('runtime and model factory', () => {
  // scripts/model writes test and benchmark models on top of the runtime; nothing the extension ships may need it.
  const factory = join(repo, 'scripts');
  for (const file of sourceFiles(join(repo, 'src'))) {
    it(`${relative(repo, file)} does not import scripts/`, () => {
      for (const specifier of importedModules(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('.')) assert.ok(!resolve(dirname(file), specifier).startsWith(factory), `imports ${specifier}`);
      }
    });
  }
});
