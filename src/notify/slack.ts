import type { Sender } from './delivery.js';
import { formatSlack } from './format.js';

/** Slack incoming webhook: `POST {"text": ...}`; the message itself is format.ts's job. */
export function slackSender(hookUrl: string, mention: string): Sender {
  return {
    destination: 'slack',
    url: hookUrl,
    encode: (lines, { now, opensIncident, dropped }) => ({
      body: JSON.stringify(formatSlack(lines, { mention: opensIncident ? mention : '', now, dropped })),
      headers: {},
    }),
  };
}
