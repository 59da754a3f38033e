import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { invalidErrorStatus, invalidTimes, serveFaultRoute } from './fault-routes.ts';
import { headerValue, readBody, sendJson } from './http-utils.ts';

/**
 * The part of Supabase's REST API (PostgREST) the BFF uses, for its two result tables, kept as
 * JSON under DATA_DIR/tables: upsert (`POST /rest/v1/<table>?on_conflict=a,b` with
 * `Prefer: resolution=merge-duplicates`) and select with `eq.` filters, so supabase-js rows
 * code runs for real and a local user can read the rows the way a Supabase app would.
 *
 * Faults, for tests of what happens when the rows cannot be written (like `/__storage/faults`):
 *   POST   /__tables/faults   {"status": 503, "times": 5, "table": "models"}: the next `times`
 *                             upserts (default 1; of `table` only, if given) answer `status`
 *                             (default 503) with PostgREST's error body, writing nothing
 *   DELETE /__tables/faults   forgets them
 */

type Row = Record<string, unknown>;

/** A scripted failure of upserts (see the route list above). */
export interface TableFault {
  status: number;
  times: number;
  table?: string;
}

/** Checks a `POST /__tables/faults` body; a string says what is wrong. */
export function parseTableFault(body: unknown): TableFault | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'Body must be a JSON object';
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).filter((key) => !['status', 'times', 'table'].includes(key));
  if (unknown.length > 0) return `Unknown field ${unknown[0]}; allowed: status, times, table`;
  const fault: TableFault = { status: 503, times: 1 };
  const problem = invalidTimes(input.times) ?? invalidErrorStatus(input.status);
  if (problem) return problem;
  if (input.times !== undefined) fault.times = input.times as number;
  if (input.status !== undefined) fault.status = input.status as number;
  if (input.table !== undefined) {
    if (typeof input.table !== 'string' || input.table === '') return 'table must be a non-empty string';
    fault.table = input.table;
  }
  return fault;
}

function postgrestError(response: ServerResponse, status: number, code: string, message: string): void {
  sendJson(response, status, { code, message, details: null, hint: null });
}

export class LocalTables {
  private readonly tables = new Map<string, Row[]>();
  private writes: Promise<void> = Promise.resolve();
  private faults: TableFault[] = [];

  constructor(
    private readonly root: string,
    private readonly names: readonly string[],
  ) {}

  private file(table: string): string {
    return join(this.root, `${table}.json`);
  }

  async rows(table: string): Promise<Row[]> {
    const known = this.tables.get(table);
    if (known) return known;
    const file = this.file(table);
    const loaded = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Row[]) : [];
    this.tables.set(table, loaded);
    return loaded;
  }

  private persist(table: string, rows: Row[]): Promise<void> {
    // Serialise writes: each one replaces the file atomically with the latest rows.
    this.writes = this.writes.then(async () => {
      await mkdir(this.root, { recursive: true });
      const temporary = `${this.file(table)}.${randomUUID()}.tmp`;
      await writeFile(temporary, JSON.stringify(rows, null, 1));
      await rename(temporary, this.file(table));
    });
    return this.writes;
  }

  async upsert(table: string, incoming: Row[], conflictColumns: string[]): Promise<void> {
    const rows = await this.rows(table);
    const now = new Date().toISOString();
    for (const row of incoming) {
      const existing =
        conflictColumns.length > 0
          ? rows.find((candidate) => conflictColumns.every((column) => candidate[column] === row[column]))
          : undefined;
      if (existing) Object.assign(existing, row);
      else rows.push({ id: randomUUID(), created_at: now, ...row });
    }
    await this.persist(table, rows);
  }

  /** Removes one use of the first fault for an upsert of this table, if any. */
  private takeFault(table: string): TableFault | undefined {
    const index = this.faults.findIndex((fault) => fault.table === undefined || fault.table === table);
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private serveFaults(request: IncomingMessage, response: ServerResponse): Promise<void> {
    return serveFaultRoute(request, response, {
      parse: parseTableFault,
      add: (fault) => this.faults.push(fault),
      clear: () => {
        this.faults = [];
      },
    });
  }

  async serve(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname.replace(/\/+$/, '') === '/__tables/faults') {
      await this.serveFaults(request, response);
      return true;
    }
    if (!url.pathname.startsWith('/rest/v1/')) return false;
    const table = decodeURIComponent(url.pathname.slice('/rest/v1/'.length));
    if (!this.names.includes(table)) {
      postgrestError(response, 404, '42P01', `relation "public.${table}" does not exist`);
      return true;
    }
    const method = (request.method ?? 'GET').toUpperCase();
    if (method === 'GET') {
      const filters = [...url.searchParams.entries()].filter(
        ([key]) => !['select', 'order', 'limit'].includes(key),
      );
      const rows = (await this.rows(table)).filter((row) =>
        filters.every(
          ([column, condition]) => condition.startsWith('eq.') && String(row[column]) === condition.slice(3),
        ),
      );
      sendJson(response, 200, rows);
      return true;
    }
    if (method !== 'POST') {
      postgrestError(response, 405, 'PGRST000', 'Only GET and POST (upsert) are served locally');
      return true;
    }
    const authorization = headerValue(request, 'authorization') ?? '';
    if (!/^Bearer\s+\S+/i.test(authorization) && !headerValue(request, 'apikey')) {
      postgrestError(response, 401, 'PGRST301', 'An API key is required');
      return true;
    }
    const fault = this.takeFault(table);
    if (fault) {
      request.resume();
      postgrestError(response, fault.status, 'PGRST000', `Could not write ${table} (injected fault)`);
      return true;
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(request, 5 * 1024 * 1024)).toString('utf8'));
    } catch {
      postgrestError(response, 400, 'PGRST102', 'Empty or invalid json');
      return true;
    }
    const rows = (Array.isArray(body) ? body : [body]).filter(
      (row): row is Row => typeof row === 'object' && row !== null && !Array.isArray(row),
    );
    const prefer = headerValue(request, 'prefer') ?? '';
    const conflict = prefer.includes('merge-duplicates')
      ? (url.searchParams.get('on_conflict') ?? '').split(',').filter(Boolean)
      : [];
    await this.upsert(table, rows, conflict);
    if (prefer.includes('return=representation')) sendJson(response, 201, rows);
    else {
      response.writeHead(201);
      response.end();
    }
    return true;
  }
}
