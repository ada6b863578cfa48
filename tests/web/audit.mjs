// Runs the GraphQL over HTTP audit suite of the reference implementation
// (graphql-http's serverAudits) against a running server and prints one line per
// audit, then a JSON summary line: {"ok":n,"warn":n,"error":n}.
// Usage: node audit.mjs http://127.0.0.1:8080/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const counts = { ok: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  counts[result.status] += 1;
  const why = result.status === 'ok' ? '' : ` -- ${result.reason}`;
  console.log(`${result.status.toUpperCase()} ${audit.id} ${audit.name}${why}`);
  if ('response' in result && result.response?.body) {
    await result.response.body.cancel?.().catch(() => {});
  }
}
console.log(JSON.stringify(counts));
