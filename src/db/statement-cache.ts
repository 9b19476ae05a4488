import type BetterSqlite3 from 'better-sqlite3';

/**
 * Put this comment in a query's SQL to get its rows from SQLite as arrays of column values in
 * select order instead of objects: better-sqlite3 builds a row object key by key, which costs
 * about twice as much as the query itself on a 1,000-row listing. PostgreSQL ignores the comment
 * and still returns objects, so a reader of such a query must accept both shapes.
 */
export const ROWS_AS_ARRAYS = '/* coffer:rows-as-arrays */';

/**
 * Wraps a better-sqlite3 handle so that `prepare` returns cached statements: Kysely prepares every
 * query afresh, and preparing costs about as much as running a small query. Safe because Kysely
 * runs one query at a time on the connection and never keeps an iterator open across queries.
 * Statements whose SQL contains ROWS_AS_ARRAYS are put in raw (array) mode. `observe` sees every
 * statement handed out (Kysely runs each right after preparing it): WalSync learns of writes there.
 */
export function withStatementCache(db: BetterSqlite3.Database, observe: (stmt: BetterSqlite3.Statement) => void = () => {}, max = 512): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'prepare') {
        return (source: string) => {
          let stmt = cache.get(source);
          if (stmt) {
            cache.delete(source);
            cache.set(source, stmt);
            observe(stmt);
            return stmt;
          }
          stmt = target.prepare(source);
          if (stmt.reader && source.includes(ROWS_AS_ARRAYS)) stmt.raw(true);
          cache.set(source, stmt);
          if (cache.size > max) cache.delete(cache.keys().next().value!);
          observe(stmt);
          return stmt;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
