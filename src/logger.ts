import pino from "pino";

export type Logger = pino.Logger;

/**
 * The service's logger. Credentials never reach the log sink: the paths below are redacted
 * whatever the call site passes (tokens, keys, secret values, auth headers).
 */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: {
        paths: [
          "token",
          "*.token",
          "headers.authorization",
          "*.headers.authorization",
          "privateKey",
          "secret",
          "*.secret",
          "clientSecret",
          "*.clientSecret",
          "accessToken",
          "*.accessToken",
          "value",
          "secrets",
          "env",
          "*.env",
        ],
        censor: "***",
      },
    },
    options.destination,
  );
}
