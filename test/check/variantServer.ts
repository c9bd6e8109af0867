import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request passing through the variant. */
export interface Exchange {
  method: string;
  /** Path and query. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** An answer passing back. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends an exchange to the real server. */
export type Forward = (exchange: Exchange) => Promise<Reply>;

/** How a variant deviates: it sees each request and may change it, its answer, or both. */
export type Deviation = (exchange: Exchange, forward: Forward) => Promise<Reply>;

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'content-encoding']);

function keep(headers: Iterable<[string, string]>): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

async function read(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return chunks.length === 0 ? undefined : Buffer.concat(chunks).toString();
}

/**
 * A loopback server in front of the reference server that breaks one rule of the protocol:
 * the reference does everything right, the deviation does the one thing wrong.
 */
export async function startVariant(target: string, deviate: Deviation): Promise<{ url: string; close(): Promise<void> }> {
  const forward: Forward = async ({ method, url, headers, body }) => {
    const response = await fetch(`${target}${url}`, { method, headers, body });
    return { status: response.status, headers: keep(response.headers), body: await response.text() };
  };
  const server = createServer((request, response) => {
    void (async () => {
      const exchange: Exchange = {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: keep(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
        body: await read(request),
      };
      const reply = await deviate(exchange, forward);
      response.writeHead(reply.status, reply.headers).end(reply.body);
    })().catch((error: unknown) => response.writeHead(502).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A JSON body of a reply changed by `change`. */
export function mapJson(reply: Reply, change: (body: unknown) => unknown): Reply {
  return { ...reply, body: JSON.stringify(change(reply.body === '' ? undefined : JSON.parse(reply.body))) };
}
