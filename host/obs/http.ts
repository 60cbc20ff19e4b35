// The service's small HTTP side door, node:http only: GET /metrics for Prometheus, GET /healthz for
// a supervisor or load balancer (200 while the service can take requests, 503 when not), GET / an
// index of the two. Everything else is 404 (405 for another method on a known path).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Health {
  ok: boolean;
  /** Sent as the body's `status`: model, broker connection, queue, kernel state… */
  status: object;
}

export interface HttpOptions {
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /** Default 127.0.0.1; 0.0.0.0 (or ::) for a Prometheus on another machine. */
  host?: string;
  metrics: { metricsText(): Promise<string>; contentType: string };
  health: () => Health;
}

export interface HttpServer {
  port: number;
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

const INDEX = `<!doctype html>
<title>wisp</title>
<h1>wisp</h1>
<ul><li><a href="/metrics">/metrics</a> Prometheus metrics</li><li><a href="/healthz">/healthz</a> health (200 ok, 503 not)</li></ul>
`;

function send(res: ServerResponse, code: number, type: string, body: string, head: boolean): void {
  res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

const json = (res: ServerResponse, code: number, body: object, head: boolean) =>
  send(res, code, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, head);

async function handle(opts: HttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const head = req.method === 'HEAD';
  const routes: Record<string, () => Promise<void> | void> = {
    '/': () => send(res, 200, 'text/html; charset=utf-8', INDEX, head),
    '/metrics': async () => send(res, 200, opts.metrics.contentType, await opts.metrics.metricsText(), head),
    '/healthz': () => {
      let h: Health;
      try {
        h = opts.health();
      } catch (e) {
        h = { ok: false, status: { error: (e as Error).message } };
      }
      json(res, h.ok ? 200 : 503, { ok: h.ok, status: h.status }, head);
    },
  };
  const route = routes[path];
  if (!route) return json(res, 404, { error: `no such path: ${path}` }, head);
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    return json(res, 405, { error: `${req.method} not allowed on ${path}` }, false);
  }
  await route();
}

export function startHttp(opts: HttpOptions): Promise<HttpServer> {
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((e: Error) => {
      if (!res.headersSent) json(res, 500, { error: e.message }, false);
      else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      // code and port kept so a caller can name its own option (wisp serve: --metrics-port)
      reject(Object.assign(new Error(`metrics/health HTTP server cannot listen on ${host}:${opts.port}: ${e.code ?? e.message}`), { code: e.code, port: opts.port, address: host }));
    });
    server.listen(opts.port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((e) => (e ? fail(e) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}
