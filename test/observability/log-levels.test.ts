import { describe, expect, it } from 'vitest';
import { parseLevel } from '../../src/observability/log-levels.js';

describe('the level a runtime log line says', () => {
  it.each([
    ['{"level":"error","msg":"boom"}', 'error'],
    ['{"level":"WARNING","msg":"x"}', 'warn'],
    ['{"level":50,"msg":"pino error"}', 'error'],
    ['{"level":60,"msg":"pino fatal"}', 'error'],
    ['{"level":40,"msg":"pino warn"}', 'warn'],
    ['{"level":30,"msg":"pino info"}', 'info'],
    ['{"level":20,"msg":"pino debug"}', 'debug'],
    ['{"level":10,"msg":"pino trace"}', 'debug'],
    ['{"severity":"ERROR","message":"gcp style"}', 'error'],
    ['ERROR cannot open /data', 'error'],
    ['WARN disk at 90%', 'warn'],
    ['INFO listening on 8080', 'info'],
    ['DEBUG cache miss', 'debug'],
    ['[error] upstream closed', 'error'],
    ['<warn> slow query', 'warn'],
    ['error: missing file', 'error'],
    ['time=2026-11-30T10:00:00Z level=warn msg="slow"', 'warn'],
  ])('%s → %s', (line, level) => {
    expect(parseLevel(line)).toBe(level);
  });

  it.each([
    'listening on 8080',
    'Error handling enabled',
    'information is power',
    '{"msg":"no level here"}',
    '{"level":"chatty"}',
    '{not json at all ERROR',
    '',
    // Words an object's prototype answers: a workload's output must not pick them.
    'CONSTRUCTOR x',
    '[toString] x',
    'level=constructor',
    '{"level":"__proto__"}',
    '{"level":"hasOwnProperty"}',
  ])('%j has none', (line) => {
    expect(parseLevel(line)).toBeUndefined();
  });
});
