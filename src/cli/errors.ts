// How couicctl turns any failure into one readable stderr line and an exit code:
// 2 for mistakes on the command line or in the config file, 1 for everything the
// server or the connection reports.
import { ClientError, Status } from 'nice-grpc-common';
import { InvalidArgumentError } from '../domain/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command line that cannot work (missing argument, unknown option, bad value). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The config file (or a file it points to) is missing or wrong. */
export class CliConfigError extends Error {
  override readonly name = 'CliConfigError';
}

export interface Failure {
  line: string;
  exitCode: number;
}

/** Details grpc-js gives when it never reached the server. */
const NOT_CONNECTED = /No connection established|ECONNREFUSED|ENOENT|EACCES|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Failed to connect|connect /;

/** OpenSSL/grpc-js wording when the peer refused or failed the handshake. */
const TLS_REFUSED = /certificate|handshake|SSL|TLS|alert/i;

/** Errors are one line on stderr, whatever the transport put in them. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** grpc-js says "No connection established. Last error: Error: connect ENOENT /x. Resolution note: "; keep the middle. */
export function connectReason(details: string): string {
  const last = /Last error: (?:Error: )?(.*?)(?:\.? Resolution note:.*)?$/s.exec(details);
  const reason = (last?.[1] ?? details).trim();
  return reason === '' ? details : reason;
}

/** Describes an error for the user; `target` is the server address used, when known. */
export function describeFailure(error: unknown, target?: string): Failure {
  if (error instanceof ClientError) {
    const code = Status[error.code] ?? String(error.code);
    const where = target === undefined ? 'the couic daemon' : `couic at ${target}`;
    if (error.code === Status.UNAVAILABLE && TLS_REFUSED.test(error.details)) {
      // The daemon is up but the TLS handshake failed: point at the certificates.
      return {
        line: `couicctl: error: ${code}: TLS handshake with ${where} failed (${oneLine(connectReason(error.details))}); check ca, cert and key in the couicctl config`,
        exitCode: EXIT_FAILURE,
      };
    }
    if (error.code === Status.UNAVAILABLE && NOT_CONNECTED.test(error.details)) {
      return {
        line: `couicctl: error: ${code}: cannot reach ${where} (${oneLine(connectReason(error.details))}); is the daemon running?`,
        exitCode: EXIT_FAILURE,
      };
    }
    return { line: `couicctl: error: ${code}: ${oneLine(error.details)}`, exitCode: EXIT_FAILURE };
  }
  if (error instanceof UsageError || error instanceof InvalidArgumentError || error instanceof CliConfigError) {
    return { line: `couicctl: error: ${error.message}`, exitCode: EXIT_USAGE };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `couicctl: error: ${message}`, exitCode: EXIT_FAILURE };
}
