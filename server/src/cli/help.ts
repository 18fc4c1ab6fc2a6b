import { jsonSchemaOf, type ProcedureInfo } from '../openapi/procedures.ts';

type Schema = Record<string, unknown>;

/** A one-line, TypeScript-like rendering of a JSON Schema: `{ code: string (1–128 chars) }`. */
export function shapeOf(schema: Schema | undefined, depth = 0): string {
  if (!schema || Object.keys(schema).length === 0) return 'any';
  if (depth > 4) return '…';
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (union) return union.map((s) => shapeOf(s, depth + 1)).join(' | ');
  if (Array.isArray(schema.allOf)) return (schema.allOf as Schema[]).map((s) => shapeOf(s, depth + 1)).join(' & ');
  if (Array.isArray(schema.type)) return schema.type.map((t) => shapeOf({ ...schema, type: t }, depth)).join(' | ');
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const fields = Object.entries(properties).map(([key, value]) => `${key}${required.has(key) ? '' : '?'}: ${shapeOf(value, depth + 1)}`);
      return fields.length ? `{ ${fields.join(', ')} }` : '{}';
    }
    case 'array':
      return `${shapeOf(schema.items as Schema | undefined, depth + 1)}[]`;
    case 'string':
      return `string${stringNotes(schema)}`;
    case 'null':
    case 'boolean':
    case 'number':
    case 'integer':
      return schema.type;
    default:
      return 'any';
  }
}

function stringNotes(schema: Schema): string {
  const notes: string[] = [];
  if (typeof schema.format === 'string') notes.push(schema.format);
  const min = schema.minLength as number | undefined;
  const max = schema.maxLength as number | undefined;
  if (min !== undefined && max !== undefined) notes.push(`${min}–${max} chars`);
  else if (max !== undefined) notes.push(`≤${max} chars`);
  else if (min !== undefined) notes.push(`≥${min} chars`);
  return notes.length ? ` (${notes.join(', ')})` : '';
}

export function inputShape(p: ProcedureInfo): string {
  if (!p.input) return 'no input';
  const shape = shapeOf(jsonSchemaOf(p.input, 'input'));
  return p.inputOptional ? `${shape} (optional)` : shape;
}

export function outputShape(p: ProcedureInfo): string {
  return p.output ? shapeOf(jsonSchemaOf(p.output, 'output')) : 'any';
}

const access = (p: ProcedureInfo) => (p.protected ? 'protected' : 'public');

export const DEFAULT_URL = 'http://127.0.0.1:3000';

export function generalHelp(procedures: ProcedureInfo[]): string {
  const width = Math.max(...procedures.map((p) => p.name.length)) + 2;
  const rows = procedures.map((p) => `  ${p.name.padEnd(width)}${p.type.padEnd(10)}${access(p).padEnd(11)}${inputShape(p)}`);
  return `Calls a procedure of a running wxkit server over HTTP with the tRPC client, and prints the JSON result.

Usage: npm run api -- <procedure> [options]        (the server workspace's bin: npm exec -w @wxkit/server -- wxkit-api …)
       npm run api -- <procedure> --help           (input and output of one procedure, and its HTTP form)

Procedures (read from the server's router; inputs from the shared zod schemas):
${rows.join('\n')}

Options:
  --input <json>    the procedure's input as JSON; @file.json reads a file, @- reads stdin
  --as <user>       log in as this simulated user first (POST /__wechat/dev/login, then login); the token is
                    cached per user and server and replaced when the server rejects it
  --password-as <username>:<password>
                    log in with a username and password first (loginWithPassword); cached like --as
  --token <token>   send Authorization: Bearer <token> (instead of --as / --password-as)
  --url <base>      server base URL (default: $WXKIT_API_URL or ${DEFAULT_URL})
  --raw             also print every HTTP request and response on stderr
  -h, --help        this help

Examples:
  npm run api -- login --as alice                          log in as "alice" and print the session
  npm run api -- getProfile --as alice
  npm run api -- updateProfile --as alice --input '{"nickname":"Alice"}'
  npm run api -- signUp --input '{"username":"shop.bob","password":"correct horse"}'
  npm run api -- getProfile --password-as 'shop.bob:correct horse'
  npm run api -- bindAccount --as alice --input '{"username":"shop.bob","password":"correct horse"}'
                                                           alice's WeChat identity now logs in to shop.bob
  npm run api -- checkSession --token "$TOKEN" --raw
  npm run -s api -- getProfile --as alice | jq .id         (-s keeps npm's banner out of stdout)

Output: the result as JSON on stdout, exit 0. A failed call prints the tRPC error (code, HTTP status, reason,
message) on stderr, exit 1. A usage mistake exits 2. Cached tokens live in $WXKIT_CACHE_DIR, else
$XDG_CACHE_HOME/wxkit, else ~/.cache/wxkit.
`;
}

export function procedureHelp(p: ProcedureInfo): string {
  const http =
    p.type === 'query'
      ? `GET /trpc/${p.name}${p.input ? '?input=<url-encoded JSON>' : ''}`
      : `POST /trpc/${p.name} with content-type: application/json and the input as body${p.input ? '' : ' ({} when none)'}`;
  const inputFlag = p.input ? ` --input '<json>'` : '';
  const auth = p.protected ? ' --as alice' : '';
  return `${p.name}: ${p.type}, ${access(p)}${p.protected ? ' (needs a token: --as <user>, --password-as <username>:<password> or --token <token>)' : ''}

  HTTP:    ${http}
  input:   ${inputShape(p)}
  output:  ${outputShape(p)}

Example:
  npm run api -- ${p.name === 'login' ? 'login --as alice' : `${p.name}${auth}${inputFlag}`}
`;
}
