// CONNECT authentication for the embedded broker: user name + password against the users table.
// Kept apart from the aedes wiring (broker.ts) so the decision is a plain async function.
import type { LoginRefusalReason } from '../obs/metrics.js';
import type { Identity } from './acl.js';
import { checkCredentials, type UserTable } from './users.js';

/** MQTT 3.1.1 CONNACK return codes (aedes maps them to the MQTT 5 reason codes 0x85, 0x86, 0x87). */
export const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

/** Why a CONNECT was refused (a metrics label, listed in obs/metrics.ts LOGIN_REFUSALS). */
export type LoginRefusal = LoginRefusalReason;

export type AuthResult =
  | { ok: true; identity: Identity }
  | { ok: false; returnCode: (typeof CONNACK)[keyof typeof CONNACK]; refusal: LoginRefusal; reason: string };

/**
 * Decides a CONNECT. Without a users table everyone is let in as 'anonymous' (the dev default).
 * With one, a known user and the right password are required, and a client id that is connected
 * as another user is refused ([MQTT-3.1.4-2] would otherwise let anyone take over that session).
 * A users table with `require_tls` refuses a CONNECT that did not come over TLS (`secure`) before
 * its password is looked at. `owner(clientId)` tells which user holds a connected client id, if any.
 */
export async function authenticate(
  table: UserTable | undefined,
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
  owner: (clientId: string) => string | undefined,
  secure = false,
): Promise<AuthResult> {
  if (!table) return { ok: true, identity: { clientId, role: 'anonymous' } };
  if (table.require_tls && !secure) {
    return { ok: false, returnCode: CONNACK.NOT_AUTHORIZED, refusal: 'tls_required', reason: 'password logins need TLS here (require_tls): connect to the TLS port' };
  }
  if (username === undefined || username === '' || password === undefined) {
    return { ok: false, returnCode: CONNACK.NOT_AUTHORIZED, refusal: 'no_credentials', reason: 'no user name or password' };
  }
  const role = await checkCredentials(table, username, password);
  if (!role) return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, refusal: 'bad_credentials', reason: 'bad user name or password' };
  const holder = owner(clientId);
  if (holder !== undefined && holder !== username) {
    return { ok: false, returnCode: CONNACK.IDENTIFIER_REJECTED, refusal: 'client_id_taken', reason: `client id ${clientId} is connected as another user` };
  }
  return { ok: true, identity: { clientId, username, role } };
}
