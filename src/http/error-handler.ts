import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VerifyReceiptError } from '../apple/verify-receipt/errors.js';
import { isDatabaseUnavailable, isDataException } from '../db/errors.js';
import {
  CodedError,
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  UpstreamError,
} from '../errors.js';

export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}

interface Classified {
  statusCode: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
  /** A coded error's extra body fields (ErrorResponse in http/schemas.ts names those a client may see). */
  details?: Record<string, unknown>;
}

// Fastify's own errors for bad requests, mapped to the stable codes of SPEC.md.
const FASTIFY_CODES: Record<string, { statusCode: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { statusCode: 413, code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { statusCode: 400, code: 'MALFORMED_REQUEST' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { statusCode: 400, code: 'MALFORMED_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { statusCode: 400, code: 'MALFORMED_JSON' },
  FST_ERR_CTP_INVALID_TYPE: { statusCode: 400, code: 'MALFORMED_REQUEST' },
  FST_ERR_CTP_INVALID_PARSER: { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  // Raised by the router before any hook or handler runs (see frameworkErrorHandler).
  FST_ERR_BAD_URL: { statusCode: 400, code: 'MALFORMED_URL' },
  FST_ERR_MAX_PARAM_LENGTH: { statusCode: 414, code: 'URL_TOO_LONG' },
};

type ErrorKind = abstract new (...args: never[]) => CodedError;

/**
 * The one place a coded error becomes an HTTP status: by its kind (src/errors.ts). A coded
 * error of no kind — Apple's verification, receipt and V1 errors, refused records — is a
 * refusal of the input (400), or a failure to decide (503) when trying again may help.
 */
export const STATUS_BY_KIND: ReadonlyArray<readonly [ErrorKind, number]> = [
  [InvalidInputError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [TooManyRequestsError, 429],
  [UpstreamError, 502],
  [UnavailableError, 503],
];

export function statusOf(error: CodedError): number {
  const kind = STATUS_BY_KIND.find(([type]) => error instanceof type);
  if (kind) return kind[1];
  return error.retryable ? 503 : 400;
}

/** Ajv's message, naming the field it refuses when Ajv's own words do not (an unknown property). */
function validationMessage(error: Partial<FastifyError>): string {
  const message = error.message ?? 'The request is invalid';
  const extra = error.validation?.find((issue) => issue.keyword === 'additionalProperties')?.params?.additionalProperty;
  return typeof extra === 'string' ? `${message}: "${extra}"` : message;
}

export function classifyError(error: unknown): Classified {
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    return { statusCode: 400, code: 'VALIDATION_ERROR', message: validationMessage(fastifyError) };
  }
  if (typeof fastifyError.code === 'string' && FASTIFY_CODES[fastifyError.code]) {
    const known = FASTIFY_CODES[fastifyError.code]!;
    return { ...known, message: fastifyError.message ?? 'The request is invalid' };
  }
  // A module's own code names the cause; it wins over sniffing socket errors in the
  // cause chain, where an unreachable OCSP responder would look like a lost database.
  if (error instanceof VerifyReceiptError && error.retryable) {
    // SPEC's 503 codes name the cause; Apple's verifyReceipt is the App Store.
    return { statusCode: 503, code: 'APP_STORE_UNAVAILABLE', message: `${error.message} (${error.code}); try again later` };
  }
  if (error instanceof CodedError) {
    const classified: Classified = { statusCode: statusOf(error), code: error.code, message: error.message };
    if (Object.keys(error.headers).length > 0) classified.headers = { ...error.headers };
    if (Object.keys(error.details).length > 0) classified.details = { ...error.details };
    return classified;
  }
  if (isDataException(error)) {
    return { statusCode: 400, code: 'INVALID_INPUT', message: 'The request carries a value the service cannot store' };
  }
  if (isDatabaseUnavailable(error)) {
    return { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable; try again' };
  }
  // Other 4xx raised by Fastify or plugins (e.g. a malformed URL) keep their status.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return {
      statusCode: fastifyError.statusCode,
      code: typeof fastifyError.code === 'string' ? fastifyError.code.replace(/^FST_ERR_/, '') : 'BAD_REQUEST',
      message: fastifyError.message ?? 'The request is invalid',
    };
  }
  return { statusCode: 500, code: 'INTERNAL_ERROR', message: 'Internal server error' };
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { ...details, code, message } };
}

/**
 * Fastify's `frameworkErrors` option: the router answers a malformed URL (bad percent
 * encoding) or an over-long path parameter itself, in its own shape, unless given this.
 * Pass it to `Fastify({ frameworkErrors: frameworkErrorHandler })`.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const classified = classifyError(error);
  request.log.info({ code: classified.code, statusCode: classified.statusCode }, classified.message);
  // The router answers before any hook runs, so the request id is set here (http/request-id.ts).
  void reply.header('x-request-id', request.id);
  void reply.status(classified.statusCode).send(errorBody(classified.code, classified.message));
}

/** The one error handler: every failure leaves in SPEC.md's error shape. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const classified = classifyError(error);
    if (classified.statusCode >= 500) {
      request.log.error({ err: error, code: classified.code }, 'request failed');
    } else {
      request.log.info({ code: classified.code, statusCode: classified.statusCode }, classified.message);
    }
    if (classified.headers) void reply.headers(classified.headers);
    return reply.status(classified.statusCode).send(errorBody(classified.code, classified.message, classified.details));
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send(errorBody('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`)));
}
