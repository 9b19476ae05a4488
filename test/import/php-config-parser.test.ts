/** The config.php reader: PHP array literals parsed, never executed. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parsePhpConfig, phpToJs } from '../../src/import/php-config-parser.ts';
import { ValidationError } from '../../src/errors.ts';
import { unpack } from './nc-fixture.ts';

describe('parsePhpConfig', () => {
  test('both fixtures\' config.php files: every key as Nextcloud wrote it', () => {
    for (const name of ['master-key', 'user-keys'] as const) {
      const nc = unpack(name);
      try {
        const text = readFileSync(join(nc.root, 'config', 'config.php'), 'utf8');
        const c = phpToJs(parsePhpConfig(text)) as Record<string, unknown>;
        // every `'key' => 'value'` line of the file reads back the same (the file is PHP's var_export output)
        for (const m of text.matchAll(/^ {2}'([^']+)' => '((?:[^'\\]|\\.)*)',$/gm)) assert.equal(c[m[1]!], m[2]!.replace(/\\(['\\])/g, '$1'), m[1]);
        assert.deepEqual(c.trusted_domains, ['localhost', '127.0.0.1']);
        assert.equal(c.installed, true);
        assert.equal(c.has_internet_connection, false);
        assert.equal(c.instanceid, nc.manifest.instanceid);
      } finally {
        nc.cleanup();
      }
    }
  });

  test('short arrays, nested arrays, both quote styles with escapes, numbers, null, comments', () => {
    const c = phpToJs(parsePhpConfig(`<?php
      // a comment
      # another
      /* block */
      $CONFIG = [
        'a' => 'it\\'s \\\\ \\n raw',
        "b" => "tab\\there \\x41\\101 \\u{1F600} \\$x \\"q\\"",
        'n' => 42, 'neg' => -7, 'hex' => 0x1F, 'f' => 1.5, 'oct' => 0o17,
        'null' => NULL, 't' => TRUE, 'list' => array('x', 'y', 5 => 'z', 'w'),
        'nested' => ['memcache' => ['host' => 'localhost', 'port' => 6379,],],
        '7' => 'int key',
      ];
    `)) as Record<string, unknown>;
    assert.equal(c.a, "it's \\ \\n raw");
    assert.equal(c.b, 'tab\there AA 😀 $x "q"');
    assert.equal(c.n, 42);
    assert.equal(c.neg, -7);
    assert.equal(c.hex, 31);
    assert.equal(c.f, 1.5);
    assert.equal(c.oct, 15);
    assert.equal(c.null, null);
    assert.equal(c.t, true);
    assert.deepEqual(c.list, { 0: 'x', 1: 'y', 5: 'z', 6: 'w' });
    assert.deepEqual(c.nested, { memcache: { host: 'localhost', port: 6379 } });
    assert.equal(c['7'], 'int key');
  });

  test('anything that needs PHP to evaluate is refused with the line, not guessed', () => {
    const bad = [
      "<?php\n$CONFIG = array('a' => getenv('X'));",
      "<?php\n$CONFIG = array('a' => 'x' . 'y');",
      "<?php\n$CONFIG = array('a' => \"$var\");",
      "<?php\n$CONFIG = array('a' => PHP_INT_MAX);",
      "<?php\n$OTHER = array();",
      "$CONFIG = array();",
      "<?php\n$CONFIG = array('a' => 'b';",
      "<?php\n$CONFIG = array();\nsystem('rm -rf /');",
    ];
    for (const b of bad) assert.throws(() => parsePhpConfig(b), ValidationError, b);
    assert.throws(() => parsePhpConfig("<?php\n\n$CONFIG = array(\n 'a' => foo(),\n);"), /line 4/);
  });
});
