import { Type, type Static } from '@sinclair/typebox';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ['UNAUTHORIZED'] }),
      message: Type.String(),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error: a stable code to branch on and a human message' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

/** Response schemas for the errors a route group can answer with. */
export function errorResponses(...statusCodes: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statusCodes.map((status) => [status, ErrorResponse]));
}
