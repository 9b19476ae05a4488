import type BetterSqlite3 from 'better-sqlite3';

/**
 * Wraps a better-sqlite3 handle so that `prepare` returns cached statements: Kysely prepares every
 * query afresh, and preparing costs about as much as running a small query. Safe because Kysely
 * runs one query at a time on the connection and never keeps an iterator open across queries.
 */
export function withStatementCache(db: BetterSqlite3.Database, max = 512): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'prepare') {
        return (source: string) => {
          let stmt = cache.get(source);
          if (stmt) {
            cache.delete(source);
            cache.set(source, stmt);
            return stmt;
          }
          stmt = target.prepare(source);
          cache.set(source, stmt);
          if (cache.size > max) cache.delete(cache.keys().next().value!);
          return stmt;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
