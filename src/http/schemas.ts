import { type Static, type TBoolean, type TInteger, type TSchemaOptions, type TString, Type } from 'typebox';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ['UNAUTHORIZED'] }),
      message: Type.String(),
      transactions: Type.Optional(
        Type.Array(Type.String(), {
          description: 'With 409 ALREADY_LINKED: the originalTransactionIds refused (linked to another user under TRANSFER_POLICY=keep)',
          examples: [['2000000000000001']],
        }),
      ),
      apps: Type.Optional(
        Type.Array(Type.String(), {
          description: 'With 503 DATABASE_UNAVAILABLE from /readyz (APPS_FILE): the apps whose database does not answer',
          examples: [['kids']],
        }),
      ),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error: a stable code to branch on and a human message' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

/** Response schemas for the errors a route group can answer with. */
export function errorResponses(...statusCodes: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statusCodes.map((status) => [status, ErrorResponse]));
}

/**
 * `T | null` as one JSON-Schema type list (`"type": ["string", "null"]`) rather than an
 * `anyOf`: the response serialiser writes it with a null check, where an `anyOf` costs a
 * schema validation per field per answer. Valid OpenAPI 3.1.
 */
export function Nullable<T extends TString | TInteger | TBoolean>(schema: T, options: TSchemaOptions = {}) {
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, type: [schema.type, 'null'] });
}

export const NullableDateTime = (example: string | null) => Nullable(Type.String({ format: 'date-time' }), { examples: [example] });
