/**
 * A stand-in CRM for trying Leadstage locally: prints every webhook it receives and, when
 * WEBHOOK_SECRET holds the subscription's `whsec_` secret, verifies its signature with the
 * `standardwebhooks` library, as a real receiver would.
 *
 *   WEBHOOK_SECRET=whsec_... npm run receiver        (listens on 127.0.0.1:4000, PORT overrides)
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.env.PORT ?? 4000);
const secret = process.env.WEBHOOK_SECRET;
const verifier = secret ? new Webhook(secret) : undefined;

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    let verdict = 'not checked (start with WEBHOOK_SECRET=whsec_... to verify)';
    if (verifier) {
      try {
        verifier.verify(body, headers);
        verdict = 'valid';
      } catch (error) {
        verdict = `INVALID (${(error as Error).message})`;
      }
    }
    let pretty = body;
    try {
      pretty = JSON.stringify(JSON.parse(body), null, 2);
    } catch {}
    process.stdout.write(
      `\n${req.method} ${req.url}\n${Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join('\n')}\nsignature: ${verdict}\n${pretty}\n`,
    );
    res.statusCode = 204;
    res.end();
  });
}).listen(port, '127.0.0.1', () => {
  process.stdout.write(`Webhook receiver listening on http://127.0.0.1:${port}/\n`);
});
