import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** A database handle or an open transaction. */
type Executor = Kysely<Database>;

interface Compiled {
  sql: string;
  /** For each bound parameter: the index of the caller's parameter, or a constant of the query. */
  slots: Array<{ arg: number } | { value: unknown }>;
}

/**
 * A hot query compiled once per dialect and parameter count, then run with new parameters:
 * building and compiling a Kysely query costs more CPU than SQLite takes to run a small one, and
 * a small PUT runs several. `build` receives placeholders and must use each of them as a plain
 * bound value (`where('x', '=', p[0])`, `values({ x: p[1] })`, `sql\`… ${p[2]} …\``), never to
 * decide the query's shape: the parameter count is the only shape key.
 */
export class QueryTemplate<R> {
  readonly #build: (db: Executor, p: readonly unknown[]) => Compilable<R>;
  readonly #cache = new WeakMap<object, Map<number, Compiled>>();

  constructor(build: (db: Executor, p: readonly unknown[]) => Compilable<R>) {
    this.#build = build;
  }

  /** Runs the query with `params` on `ex`. @throws database errors */
  async execute(ex: Executor, params: readonly unknown[]): Promise<{ rows: R[]; numAffectedRows?: bigint }> {
    const c = this.#compiled(ex, params.length);
    const bound = c.slots.map((s) => ('arg' in s ? params[s.arg] : s.value));
    const r = await ex.executeQuery<R>(CompiledQuery.raw(c.sql, bound));
    return { rows: r.rows, numAffectedRows: r.numAffectedRows };
  }

  #compiled(ex: Executor, n: number): Compiled {
    const adapter = ex.getExecutor().adapter as object;
    let byCount = this.#cache.get(adapter);
    if (!byCount) this.#cache.set(adapter, byCount = new Map());
    let c = byCount.get(n);
    if (!c) {
      const marks = Array.from({ length: n }, (_, i) => `\u0000coffer-param-${i}\u0000`);
      const q = this.#build(ex, marks).compile();
      const index = new Map(marks.map((m, i) => [m, i]));
      c = { sql: q.sql, slots: q.parameters.map((v) => (typeof v === 'string' && index.has(v) ? { arg: index.get(v)! } : { value: v })) };
      byCount.set(n, c);
    }
    return c;
  }
}
