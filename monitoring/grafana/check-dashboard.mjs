// Checks a dashboard JSON against Grafana's own dashboard model: the `Dashboard` type that
// @grafana/schema generates from Grafana's schema (the types its frontend loads dashboards
// into). Grafana cannot be installed here, so this is the import check CI can run: an
// unknown field, a field of the wrong type or a missing required one fails it.
//
// The JSON is written into a TypeScript module as an object literal typed as the dashboard,
// so TypeScript's excess-property and type checks apply to every nested object. Grafana's
// types name some values with string enums, which a JSON string cannot name; `Json<T>`
// reads each such enum as the union of its values and leaves everything else as it is.
// What the model leaves open is not checked: a panel's `type` (any plugin id), its
// `options` and `fieldConfig.defaults.custom` (plugin-defined), and its queries
// (`DataQuery` allows any field; the live test dashboard_and_alerts_name_only_exported_metrics
// checks the metrics they name).
//
// Usage: node check-dashboard.mjs binlog-relay.json
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const file = process.argv[2];
if (!file) {
  console.error('usage: node check-dashboard.mjs DASHBOARD.json');
  process.exit(2);
}
const json = readFileSync(file, 'utf8');
JSON.parse(json); // Not JSON at all: say so plainly, before the type check.

// Beside this script, so `@grafana/schema` resolves from its node_modules wherever it is
// run from.
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(here, '.check-'));
const module = join(dir, 'dashboard.ts');
const PREAMBLE_LINES = 6;
writeFileSync(
  module,
  [
    "import type { Dashboard } from '@grafana/schema';",
    'type Json<T> = T extends string ? `${T}`',
    '  : T extends readonly (infer U)[] ? Json<U>[]',
    '  : T extends object ? { [K in keyof T]: Json<T[K]> }',
    '  : T;',
    'export const dashboard: Json<Dashboard> =',
    `${json};`,
  ].join('\n'),
);
try {
  const program = ts.createProgram([module], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  for (const d of diagnostics) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const at = d.file && d.start !== undefined && d.file.getLineAndCharacterOfPosition(d.start);
    if (at && at.line >= PREAMBLE_LINES) {
      // The module's lines after its preamble are the JSON's lines.
      console.error(`${file}:${at.line - PREAMBLE_LINES + 1}:${at.character + 1}: ${text}`);
    } else {
      console.error(`${file}: ${text}`);
    }
  }
  if (diagnostics.length > 0) {
    console.error(`${file}: ${diagnostics.length} error(s) against @grafana/schema's Dashboard`);
    process.exitCode = 1;
  } else {
    const dashboard = JSON.parse(json);
    console.log(
      `${file}: matches @grafana/schema's Dashboard (${dashboard.panels.length} panels, schemaVersion ${dashboard.schemaVersion})`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
