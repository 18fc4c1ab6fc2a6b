import type { AnyRouter } from '@trpc/server';
import * as shared from '@wxkit/shared';
import { z } from 'zod';
import { appRouter } from '../router.ts';
import { profileProcedure, protectedProcedure, publicProcedure } from '../trpc/init.ts';

/**
 * What the CLI's help and the OpenAPI document know about each procedure, read from the router itself
 * (`_def.procedures`) so that a new procedure shows up in both with no change here.
 */
export interface ProcedureInfo {
  /** The wire path: `/trpc/<name>`. */
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  /** Built on `protectedProcedure` or `profileProcedure`: answers UNAUTHORIZED without a live session. */
  protected: boolean;
  /** The zod input schema, if the procedure takes input (several `.input()` calls are merged, as tRPC does). */
  input: z.ZodType | undefined;
  /** Whether `undefined` is an acceptable input (no input, or an optional one). */
  inputOptional: boolean;
  output: z.ZodType | undefined;
}

// tRPC keeps these on `_def` at runtime; its public types do not expose all of them.
interface ProcedureDef {
  type: 'query' | 'mutation' | 'subscription';
  inputs: unknown[];
  output?: unknown;
  middlewares: unknown[];
}

const isZod = (value: unknown): value is z.ZodType => value instanceof z.ZodType;

function defOf(procedure: unknown): ProcedureDef {
  return (procedure as { _def: ProcedureDef })._def;
}

/** The middlewares that `protectedProcedure` (or `profileProcedure`) adds on top of `publicProcedure`: the session check. */
function authMiddlewareSets(): unknown[][] {
  const base = defOf(publicProcedure).middlewares;
  return [protectedProcedure, profileProcedure].map((p) => defOf(p).middlewares.filter((m) => !base.includes(m)));
}

/** Every procedure, in the router's order. */
export function listProcedures(router: AnyRouter = appRouter): ProcedureInfo[] {
  const authSets = authMiddlewareSets();
  const procedures = router._def.procedures as Record<string, unknown>;
  return Object.entries(procedures)
    .map(([name, procedure]): ProcedureInfo => {
      const def = defOf(procedure);
      const inputs = def.inputs.filter(isZod);
      const input = inputs.length === 0 ? undefined : inputs.reduce((a, b) => z.intersection(a, b));
      return {
        name,
        type: def.type,
        protected: authSets.some((auth) => auth.length > 0 && auth.every((m) => def.middlewares.includes(m))),
        input,
        inputOptional: !input || input.safeParse(undefined).success,
        output: isZod(def.output) ? def.output : undefined,
      };
    });
}

/** The exported name of a schema in `@wxkit/shared` (`loginInput`, `profile`, …), used to name it in documents. */
export function sharedSchemaName(schema: z.ZodType): string | undefined {
  for (const [name, value] of Object.entries(shared)) if (value === schema) return name;
  return undefined;
}

type JsonSchema = Record<string, unknown>;

/** JSON Schema 2020-12 of a zod schema, as the wire carries it (`io`: what a caller sends, or what it receives). */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}
