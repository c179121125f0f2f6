// schema.sql is the full current schema: applying every migration in order
// to an empty database must give exactly what schema.sql gives.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';

const root = new URL('..', import.meta.url);
const read = (p) => readFileSync(new URL(p, root), 'utf8');

/** Schema objects with their SQL stripped of comments and spacing. */
function shape(db) {
  const normalise = (sql) =>
    sql
      .replace(/--[^\n]*/g, '')
      .replace(/\s+/g, ' ')
      .replace(/\s*([(),])\s*/g, '$1')
      .trim();
  return db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
    .all()
    .map((row) => ({ ...row, sql: row.sql && normalise(row.sql) }));
}

test('migrations applied in order give exactly schema.sql', () => {
  const migrated = new DatabaseSync(':memory:');
  const files = readdirSync(new URL('migrations', root)).filter((f) => f.endsWith('.sql')).sort();
  assert.ok(files.length > 0);
  for (const f of files) migrated.exec(read(`migrations/${f}`));
  const fromSchema = new DatabaseSync(':memory:');
  fromSchema.exec(read('schema.sql'));
  assert.deepEqual(shape(migrated), shape(fromSchema));
});

test('migration files are numbered without gaps', () => {
  const files = readdirSync(new URL('migrations', root)).filter((f) => f.endsWith('.sql')).sort();
  files.forEach((f, i) => assert.match(f, new RegExp(`^${String(i + 1).padStart(4, '0')}_[a-z0-9_]+\\.sql$`)));
});
