import { createHash } from 'node:crypto';

// GET /docs: the OpenAPI document rendered as one static HTML page on the server. No
// script and no asset to fetch (a Swagger UI bundle would be ~1.5 MB of JavaScript to
// ship, patch and allow in a CSP); the page's only style is inline and pinned by hash.

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: unknown;
}
interface Content {
  schema?: unknown;
}
interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; description?: string; content?: Record<string, Content> };
  responses?: Record<string, { description?: string; content?: Record<string, Content> }>;
}
export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  tags?: Array<{ name: string; description?: string }>;
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, { description?: string }> };
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main{max-width:980px;margin:0 auto;padding:0 20px}
header{padding-top:24px}h1{margin:0 0 4px}h2{margin-top:40px;border-bottom:1px solid #ddd}
nav ul{columns:2;padding-left:20px}a{color:#0060c0}
section.op{background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:4px 16px 12px;margin:16px 0}
.method{display:inline-block;min-width:58px;font-weight:700;color:#fff;border-radius:4px;padding:1px 6px;text-align:center;font-size:13px}
.get{background:#1a7f37}.post{background:#0060c0}.put,.patch{background:#9a6700}.delete{background:#cf222e}
code,pre{font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:#f4f4f4;padding:8px;overflow:auto;border-radius:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #e2e2e2;padding:4px 8px;text-align:left;vertical-align:top}
.muted{color:#666}
`;

/** The page's Content-Security-Policy: nothing but its own inline style. */
export const DOCS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const anchor = (method: string, path: string) => `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;

/** A schema as JSON, shared schemas named by their $ref rather than repeated. */
const schemaBlock = (schema: unknown) => `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;

function contentBlock(content: Record<string, Content> | undefined): string {
  if (!content) return '';
  return Object.entries(content)
    .map(([type, { schema }]) => `<details><summary><code>${escapeHtml(type)}</code></summary>${schema === undefined ? '' : schemaBlock(schema)}</details>`)
    .join('');
}

function securityText(operation: Operation, document: OpenApiDocument): string {
  const names = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement));
  if (names.length === 0) return 'none';
  return names
    .map((name) => {
      const described = document.components?.securitySchemes?.[name]?.description;
      return `Bearer <code>${escapeHtml(name)}</code>${described ? ` (${escapeHtml(described)})` : ''}`;
    })
    .join(' or ');
}

function parametersTable(parameters: Parameter[] | undefined): string {
  if (!parameters?.length) return '';
  const rows = parameters
    .map((p) => {
      const type = (p.schema as { type?: unknown } | undefined)?.type;
      return `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'required' : 'optional'}</td><td>${escapeHtml(type === undefined ? '' : String(type))}</td><td>${escapeHtml(p.description ?? '')}</td></tr>`;
    })
    .join('');
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th></th><th>type</th><th>description</th></tr>${rows}</table>`;
}

function operationSection(method: string, path: string, operation: Operation, document: OpenApiDocument): string {
  const responses = Object.entries(operation.responses ?? {})
    .map(([status, response]) => `<li><strong>${escapeHtml(status)}</strong> ${escapeHtml(response.description ?? '')}${contentBlock(response.content)}</li>`)
    .join('');
  const body = operation.requestBody
    ? `<h4>Request body${operation.requestBody.required ? '' : ' (optional)'}</h4>${contentBlock(operation.requestBody.content)}`
    : '';
  return `<section class="op" id="${anchor(method, path)}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
${operation.summary ? `<p>${escapeHtml(operation.summary)}</p>` : ''}${operation.description ? `<p>${escapeHtml(operation.description)}</p>` : ''}
<p class="muted">Authorization: ${securityText(operation, document)}</p>
${parametersTable(operation.parameters)}${body}<h4>Responses</h4><ul>${responses}</ul>
</section>`;
}

/** The whole page; `documentUrl` is where the JSON document is served. */
export function renderDocsPage(document: OpenApiDocument, documentUrl: string): string {
  const operations = Object.entries(document.paths ?? {}).flatMap(([path, methods]) =>
    METHODS.filter((method) => methods[method]).map((method) => ({ method, path, operation: methods[method]! })),
  );
  const tags = [...(document.tags ?? [])];
  for (const { operation } of operations) {
    for (const name of operation.tags ?? ['other']) if (!tags.some((tag) => tag.name === name)) tags.push({ name });
  }
  const groups = tags
    .map((tag) => ({ tag, members: operations.filter(({ operation }) => (operation.tags ?? ['other'])[0] === tag.name) }))
    .filter(({ members }) => members.length > 0);

  const nav = groups
    .map(
      ({ tag, members }) =>
        `<li>${escapeHtml(tag.name)}<ul>${members.map(({ method, path }) => `<li><a href="#${anchor(method, path)}">${method.toUpperCase()} ${escapeHtml(path)}</a></li>`).join('')}</ul></li>`,
    )
    .join('');
  const sections = groups
    .map(
      ({ tag, members }) =>
        `<h2 id="tag-${escapeHtml(tag.name)}">${escapeHtml(tag.name)}</h2>${tag.description ? `<p>${escapeHtml(tag.description)}</p>` : ''}${members
          .map(({ method, path, operation }) => operationSection(method, path, operation, document))
          .join('\n')}`,
    )
    .join('\n');
  const schemas = Object.entries(document.components?.schemas ?? {})
    .map(([name, schema]) => `<details id="schema-${escapeHtml(name)}"><summary><code>${escapeHtml(name)}</code></summary>${schemaBlock(schema)}</details>`)
    .join('');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)} — API reference</title><style>${STYLE}</style></head>
<body><header><h1>${escapeHtml(document.info.title)}</h1><p class="muted">version ${escapeHtml(document.info.version)} · OpenAPI document: <a href="${escapeHtml(documentUrl)}">${escapeHtml(documentUrl)}</a></p>
${document.info.description ? `<p>${escapeHtml(document.info.description)}</p>` : ''}</header>
<main><nav><h2>Routes</h2><ul>${nav}</ul></nav>
${sections}
${schemas ? `<h2>Shared schemas</h2>${schemas}` : ''}
</main></body></html>
`;
}
