// The API contract, as a host app's tools read it: the served OpenAPI
// document (GET /openapi.json of `fanfare demo`, see e2e/run.sh) passes
// Redocly's lint (redocly.yaml) without a problem, and the TypeScript
// types openapi-typescript generates from it type-check a host app's
// calls (contract/hostapp.ts, with tsc --noEmit in strict mode).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BASE_URL = process.env.BASE_URL;
if (!BASE_URL) {
  throw new Error('BASE_URL is not set: run the tests with e2e/run.sh');
}
const E2E = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(E2E, 'test-output', 'contract');
const bin = (name) => join(E2E, 'node_modules', '.bin', name);

/** Runs a tool of node_modules; a failure shows its whole output. */
async function tool(name, args) {
  try {
    return await run(bin(name), args, { cwd: E2E, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  } catch (err) {
    assert.fail(`${name} ${args.join(' ')} failed (${err.code}):\n${err.stdout}\n${err.stderr}`);
  }
}

describe('the API contract', { timeout: 120_000 }, () => {
  let docPath;

  test('the served document is OpenAPI 3.1 with a relative server', async () => {
    const res = await fetch(new URL('/openapi.json', BASE_URL));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/openapi\+json/);
    const text = await res.text();
    const doc = JSON.parse(text);
    assert.match(doc.openapi, /^3\.1\./);
    assert.deepEqual(doc.servers.map((s) => s.url), ['/']);
    mkdirSync(OUT, { recursive: true });
    docPath = join(OUT, 'openapi.json');
    writeFileSync(docPath, text);
  });

  test('redocly lint finds no problem', async () => {
    assert.ok(docPath, 'the document was fetched');
    const { stdout, stderr } = await tool('redocly', ['lint', '--config', join(E2E, 'redocly.yaml'), '--format', 'json', docPath]);
    const start = stdout.indexOf('{');
    assert.ok(start >= 0, `redocly printed no report:\n${stdout}\n${stderr}`);
    const report = JSON.parse(stdout.slice(start));
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
    assert.deepEqual(problems, [], 'redocly lint problems');
    assert.equal(report.totals.errors, 0);
    assert.equal(report.totals.warnings, 0);
  });

  test('openapi-typescript types type-check a host app', async () => {
    assert.ok(docPath, 'the document was fetched');
    await tool('openapi-typescript', [docPath, '--output', join(OUT, 'api.d.ts')]);
    copyFileSync(join(E2E, 'contract', 'hostapp.ts'), join(OUT, 'hostapp.ts'));
    writeFileSync(join(OUT, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: 'es2022', module: 'preserve', moduleResolution: 'bundler',
        exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false, types: [],
      },
      files: ['hostapp.ts', 'api.d.ts'],
    }, null, 2));
    await tool('tsc', ['--project', join(OUT, 'tsconfig.json')]);
  });
});
