import { defaultDbStatementSerializer } from '@opentelemetry/redis-common';
import { describe, expect, it } from 'vitest';
import { redisStatement } from '../src/telemetry/redis-statement.ts';

describe('redisStatement (db.query.text of Redis spans)', () => {
  it('keeps the SHA1, key count and keys of a script call, not its values', () => {
    // The shape of BullMQ's addStandardJob: 9 keys, then packed args, the job data, packed options.
    const keys = ['wait', 'paused', 'meta', 'id', 'completed', 'delayed', 'active', 'events', 'marker'].map((k) => `bull:thumbnail:${k}`);
    const args = ['1f0c2d', 9, ...keys, Buffer.from([0x93, 0xa4, 0x62, 0x75]), JSON.stringify({ videoId: 'v-1', key: 'videos/v-1.mp4' }), Buffer.from([0x81, 0xa1])];
    const text = redisStatement('evalsha', args);
    expect(text).toBe(`evalsha 1f0c2d 9 ${keys.join(' ')} [3 other arguments]`);
    expect(text).not.toContain('videos/v-1.mp4');
    // The default would have carried all of it.
    expect(defaultDbStatementSerializer('evalsha', args)).toContain('videos/v-1.mp4');
  });

  it('never records the source of EVAL', () => {
    const script = "local n = redis.call('INCR', KEYS[1])\nreturn n + tonumber(ARGV[1])";
    expect(redisStatement('eval', [script, '1', 'counter', '5'])).toBe('eval [script] 1 counter [1 other arguments]');
    expect(redisStatement('EVAL_RO', [script, 0])).toBe('EVAL_RO [script] 0');
  });

  it('treats FCALL like a script call: the function name and keys stay', () => {
    expect(redisStatement('fcall', ['enqueue', 2, 'q:wait', 'q:meta', '{"a":1}'])).toBe('fcall enqueue 2 q:wait q:meta [1 other arguments]');
    expect(redisStatement('fcall_ro', ['peek', 1, 'q:wait'])).toBe('fcall_ro peek 1 q:wait');
  });

  it('reads a bad or oversized key count as what the arguments allow', () => {
    expect(redisStatement('evalsha', ['abc', 'x', 'k', 'v'])).toBe('evalsha abc x [2 other arguments]');
    expect(redisStatement('evalsha', ['abc', -3, 'k'])).toBe('evalsha abc -3 [1 other arguments]');
    expect(redisStatement('evalsha', ['abc', 5, 'k1', 'k2'])).toBe('evalsha abc 5 k1 k2');
    // Too few arguments for a script call: the default's answer.
    expect(redisStatement('evalsha', ['abc'])).toBe(defaultDbStatementSerializer('evalsha', ['abc']));
  });

  it('leaves every other command to the default subset', () => {
    for (const [name, args] of [
      ['set', ['k', 'secret-value']],
      ['hset', ['h', 'f', 'v']],
      ['get', ['k']],
      ['publish', ['channel', '{"progress":1}']],
      ['ping', []],
      ['evalsha_unknown', ['a', 'b']],
    ] as const) {
      expect(redisStatement(name, [...args])).toBe(defaultDbStatementSerializer(name, [...args]));
    }
    expect(redisStatement('set', ['k', 'secret-value'])).toBe('set k [1 other arguments]');
  });
});
