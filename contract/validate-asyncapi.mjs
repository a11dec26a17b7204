// Validates an AsyncAPI document with the AsyncAPI parser, the references it makes into
// message.schema.json included: exit 1 on any error or warning, printing each.
// usage: node validate-asyncapi.mjs asyncapi.yaml
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
const { document, diagnostics } = await fromFile(new Parser(), path).parse();
const names = ['error', 'warning', 'info', 'hint'];
for (const d of diagnostics) {
  console.log(`${names[d.severity]} ${d.code}: ${d.message} at ${d.path.join('.')}`);
}
const problems = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
if (!document || problems.length > 0) {
  console.error(`${path}: ${problems.length} error(s) or warning(s)`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.allMessages().length} messages`);
