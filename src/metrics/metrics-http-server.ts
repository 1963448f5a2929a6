// GET /metrics for Prometheus, behind the bearer token of a monitoring or admin client.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bearerToken, type TokenDirectory } from '../rbac/bearer-token.js';
import { groupAllows } from '../rbac/permissions.js';

export async function startMetricsServer(
  listen: { host: string; port: number },
  registry: Registry,
  directory: TokenDirectory,
  logger: Logger,
): Promise<Server> {
  const server = createServer((req, res) => {
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      reply(404, 'not found: use GET /metrics\n');
      return;
    }
    const token = bearerToken(req.headers.authorization);
    const caller = token === undefined ? undefined : directory.findByToken(token);
    if (caller === undefined) {
      res.setHeader('www-authenticate', 'Bearer');
      reply(401, token === undefined ? 'missing "Authorization: Bearer <token>"\n' : 'unknown token\n');
      return;
    }
    if (!groupAllows(caller.group, 'stats.read')) {
      reply(403, `client "${caller.name}" (group ${caller.group}) may not read metrics\n`);
      return;
    }
    registry.metrics().then(
      (text) => reply(200, spellNaN(text), registry.contentType),
      (error: unknown) => {
        logger.error({ err: error }, 'metrics collection failed');
        reply(500, 'metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * prom-client writes a NaN sample (e.g. the event-loop lag mean before its first
 * sample) as "Nan"; the exposition format spells it "NaN".
 */
function spellNaN(text: string): string {
  return text.includes(' Nan\n') ? text.replace(/ Nan$/gm, ' NaN') : text;
}
