import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedWebhook {
  body: Record<string, unknown>;
  /** The HMAC-SHA256 over `<timestamp>.<body>` with the secret the test knows matched. */
  verified: boolean;
}

/** A webhook receiver on loopback that checks each delivery's signature; the first `failFirst` answer 500. */
export async function startWebhookReceiver(
  secret: string,
  failFirst = 0,
): Promise<{ url: string; received: ReceivedWebhook[]; close: () => Promise<void> }> {
  const received: ReceivedWebhook[] = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls++;
      if (calls <= failFirst) {
        res.writeHead(500).end('not now');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const want = `sha256=${createHmac('sha256', secret).update(`${req.headers['x-rondo-timestamp']}.${raw}`).digest('hex')}`;
      const got = String(req.headers['x-rondo-signature'] ?? '');
      const verified = got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
      received.push({ body: JSON.parse(raw) as Record<string, unknown>, verified });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/alerts`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

/** A real SMTP listener on loopback (no TLS, no auth) that keeps every message it accepts. */
export async function startSmtpServer(): Promise<{
  port: number;
  mails: ReceivedMail[];
  close: () => Promise<void>;
}> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}
