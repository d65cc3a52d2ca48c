import { PairRequest, isFerryError, type PairReply } from '../protocol';
import type { Accounts } from './accounts';
import { bearerOf, type FailureLimiter } from './auth';
import { route, type Route } from './http';
import { parseInput } from './validation';

const PAIR_BODY_BYTES = 4 * 1024;

/**
 * `POST /v1/pair`: trades a one-time pairing code for a device token. Sent without a bearer
 * token, so failed codes are limited per client address (429 with Retry-After beyond).
 * Neither the code nor the token is ever logged.
 */
export function pairingRoute(accounts: Accounts, failures: FailureLimiter): Route {
  return route(
    'POST',
    '/v1/pair',
    'json',
    async (ctx) => {
      const address = ctx.req.socket.remoteAddress ?? 'unknown';
      failures.check(address);
      const request = parseInput(PairRequest, ctx.body, 'pairing request');
      try {
        // A device pairing again names its old credential as its bearer token: that one ends.
        const previous = bearerOf(ctx.req.headers.authorization);
        const { device, token, replaced } = await accounts.redeemPairingCode(request.code, request.deviceName ?? 'device', previous);
        ctx.log.info('device paired', { deviceId: device.id, user: device.user, name: device.name, ...(replaced ? { replacedDeviceId: replaced } : {}) });
        const body: PairReply = { deviceId: device.id, token, user: device.user, ...(replaced ? { replacedDeviceId: replaced } : {}) };
        return { status: 201, body };
      } catch (error) {
        if (isFerryError(error) && error.code.startsWith('pairing_code_')) {
          failures.failed(address);
          ctx.log.warn('pairing refused', { code: error.code, address });
        }
        throw error;
      }
    },
    { maxBodyBytes: PAIR_BODY_BYTES },
  );
}
