import { createHmac } from 'node:crypto';
import type { Sender } from './delivery.js';
import { formatWebhook } from './format.js';

export const SIGNATURE_HEADER = 'x-spo2-signature';

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, as a receiver recomputes it. */
export function signBody(body: string, secret: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Generic webhook: `POST {"events": [...]}`, signed when a secret is set. */
export function webhookSender(url: string, secret: string | null): Sender {
  return {
    destination: 'webhook',
    url,
    encode: (lines, { dropped }) => {
      const body = JSON.stringify(formatWebhook(lines, dropped));
      const headers: Record<string, string> = secret ? { [SIGNATURE_HEADER]: signBody(body, secret) } : {};
      return { body, headers };
    },
  };
}
