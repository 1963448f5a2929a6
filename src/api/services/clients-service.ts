// ClientsService: API clients and their groups (admin only).
import type { Logger } from 'pino';
import type { ClientsServiceImplementation } from '../../generated/couic/v1/clients.js';
import type { ClientRegistry } from '../../rbac/client-registry.js';
import { authorize, type CallerContext } from '../caller.js';

export function createClientsService(registry: ClientRegistry, logger: Logger): ClientsServiceImplementation<CallerContext> {
  return {
    async addClient(request, { caller }) {
      authorize(caller, 'clients.manage');
      const client = await registry.add(request.name, request.group);
      logger.info({ client: caller.name, name: client.name, group: client.group }, 'api client added');
      return { client };
    },
    async getClient(request, { caller }) {
      authorize(caller, 'clients.manage');
      return { client: registry.get(request.name) };
    },
    async listClients(_request, { caller }) {
      authorize(caller, 'clients.manage');
      return { clients: registry.list() };
    },
    async deleteClient(request, { caller }) {
      authorize(caller, 'clients.manage');
      const client = await registry.delete(request.name);
      logger.info({ client: caller.name, name: client.name, group: client.group }, 'api client deleted');
      return { client };
    },
  };
}
