import pino, { type Logger } from 'pino';

/** JSON lines on stdout; secrets that may sit in headers or config are redacted. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { app: 'spo2' },
    redact: { paths: ['req.headers.authorization', 'config.apiToken', 'config.readToken', 'config.basicAuth', 'config.webhookSecret', 'config.slackHookUrl', 'config.heartbeatUrl'], censor: '[redacted]' },
  });
}
