import type { TRPCError } from '@trpc/server';
import type { ErrorReason } from '@wxkit/shared';
import { AppError } from './app-error.ts';

interface Issue {
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  message: string;
}

function schemaIssues(cause: unknown): Issue[] | undefined {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) ? (issues as Issue[]) : undefined;
}

function issueText(issue: Issue): string {
  const path = (issue.path ?? []).map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
  // Our schema messages already start with the field name; generic ones get it prefixed.
  return path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message;
}

/** The one message an unexpected error shows (its own text could quote SQL or a secret). */
export const INTERNAL_ERROR_MESSAGE = 'Internal server error: try again; if it keeps happening, report the time of the request to the operators.';
/** How procedure input travels, for messages about unreadable input. */
export const INPUT_AS_JSON = 'the input as JSON (GET: ?input=<url-encoded JSON>, POST: JSON body)';

/**
 * Turns any error into the message and `reason` a client sees. Unexpected errors never show their own message
 * (it could quote SQL or a secret); they are logged server-side by the adapter's onError.
 */
export function describeError(error: TRPCError): { message: string; reason: ErrorReason | undefined } {
  if (error instanceof AppError) return { message: error.message, reason: error.reason };
  const issues = schemaIssues(error.cause);
  if (error.code === 'BAD_REQUEST' && issues) {
    const text = issues.slice(0, 5).map(issueText).join('; ');
    return { message: `Invalid input: ${text}. Fix the input and send it again.`, reason: 'invalid_input' };
  }
  if (error.code === 'BAD_REQUEST' || error.code === 'PARSE_ERROR') {
    return { message: `${error.message}. Send ${INPUT_AS_JSON}.`, reason: 'invalid_input' };
  }
  // Malformed requests rather than bad values: say how to send them instead.
  if (error.code === 'NOT_FOUND' && /procedure/i.test(error.message)) {
    return { message: `${error.message}. The procedures are listed at GET /openapi.json and by \`npm run api -- --help\`.`, reason: 'invalid_input' };
  }
  if (error.code === 'METHOD_NOT_SUPPORTED') {
    return { message: `${error.message}. Queries are GET /trpc/<name>?input=<url-encoded JSON>; mutations are POST /trpc/<name> with a JSON body.`, reason: 'invalid_input' };
  }
  if (error.code === 'UNSUPPORTED_MEDIA_TYPE') {
    return { message: `${error.message}. Send mutations with \`content-type: application/json\` and a JSON body ({} when there is no input).`, reason: 'invalid_input' };
  }
  if (error.code === 'INTERNAL_SERVER_ERROR') {
    return { message: INTERNAL_ERROR_MESSAGE, reason: 'internal' };
  }
  return { message: error.message, reason: undefined };
}
