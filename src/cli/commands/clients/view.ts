// How API clients look: the reference's Name / Group / Token table (its walkthrough
// pads Name and Group wider than their content, so we do too) and the JSON shape.
import type { Client } from '../../../generated/couic/v1/clients.js';
import type { CliContext } from '../../context.js';
import { writeJson } from '../../output/json.js';
import { renderTable } from '../../output/table.js';

export interface ClientJson {
  name: string;
  group: string;
  token: string;
}

export function clientJson(client: Client): ClientJson {
  return { name: client.name, group: client.group, token: client.token };
}

/** Minimum widths of Name and Group, as in the reference walkthrough output. */
const CLIENT_MIN_WIDTHS = [11, 10, 0];

export function renderClients(clients: readonly Client[]): string {
  return renderTable(
    ['Name', 'Group', 'Token'],
    clients.map((client) => [client.name, client.group, client.token]),
    { minWidths: CLIENT_MIN_WIDTHS },
  );
}

/** A single-client answer, as a table or JSON. */
export function printClient(ctx: CliContext, client: Client | undefined, json: boolean): void {
  if (client === undefined) throw new Error('the server answered without a client');
  if (json) writeJson(ctx.stdout, clientJson(client));
  else ctx.stdout.write(renderClients([client]));
}
