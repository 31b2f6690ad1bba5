// Configuration validation (errors name the variable) and session tokens (HMAC, expiry,
// tampering, Bearer or cookie). Pure: no servers.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { signToken, tokenFromRequest, verifyToken } from '../src/api/auth.ts';
import { ConfigError, loadApiConfig } from '../src/api/config.ts';
import { DEFAULT_PORTS, UPLOAD_MAX_BYTES_DEFAULT } from '../src/signals/index.ts';

const SECRET = 'a-very-secret-session-key';
const base = { SESSION_SECRET: SECRET, AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'key' };

describe('loadApiConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadApiConfig(base);
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: DEFAULT_PORTS.api,
      metricsPort: DEFAULT_PORTS.apiMetrics,
      redisUrl: 'redis://127.0.0.1:6379',
      environment: 'development',
      uploadMaxBytes: UPLOAD_MAX_BYTES_DEFAULT,
      deliveryDefault: 'redirect',
      faultErrorRatio: 0,
      faultLatencyMs: 0,
      s3: { bucket: 'videos', region: 'us-east-1', accessKeyId: 'id', secretAccessKey: 'key' },
    });
    expect(c.s3.endpoint).toBeUndefined();
  });

  it.each([
    [{ SESSION_SECRET: undefined }, 'SESSION_SECRET'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET'],
    [{ AWS_ACCESS_KEY_ID: '' }, 'AWS_ACCESS_KEY_ID'],
    [{ AWS_SECRET_ACCESS_KEY: undefined }, 'AWS_SECRET_ACCESS_KEY'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ METRICS_PORT: '-1' }, 'METRICS_PORT'],
    [{ S3_ENDPOINT: 'not a url' }, 'S3_ENDPOINT'],
    [{ S3_ENDPOINT: 'ftp://x' }, 'S3_ENDPOINT'],
    [{ REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL'],
    [{ DEPLOYMENT_ENVIRONMENT: 'prod' }, 'DEPLOYMENT_ENVIRONMENT'],
    [{ UPLOAD_MAX_BYTES: '0' }, 'UPLOAD_MAX_BYTES'],
    [{ UPLOAD_MAX_BYTES: '1e9' }, 'UPLOAD_MAX_BYTES'],
    [{ VIDEO_DELIVERY_DEFAULT: 'carrier-pigeon' }, 'VIDEO_DELIVERY_DEFAULT'],
    [{ FAULT_ERROR_RATIO: '1.5' }, 'FAULT_ERROR_RATIO'],
    [{ FAULT_ERROR_RATIO: 'half' }, 'FAULT_ERROR_RATIO'],
    [{ FAULT_LATENCY_MS: '-5' }, 'FAULT_LATENCY_MS'],
  ] as [Record<string, string | undefined>, string][])('rejects %j with an error naming %s', (override, variable) => {
    let err: unknown;
    try {
      loadApiConfig({ ...base, ...override });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message.startsWith(`${variable}:`)).toBe(true);
  });

  it('reads every variable it documents', () => {
    const c = loadApiConfig({
      ...base,
      HOST: '0.0.0.0',
      PORT: '8081',
      METRICS_PORT: '9999',
      S3_ENDPOINT: 'http://minio:9000',
      S3_BUCKET: 'b',
      S3_REGION: 'eu-west-1',
      REDIS_URL: 'redis://redis:6379',
      DEPLOYMENT_ENVIRONMENT: 'production',
      UPLOAD_MAX_BYTES: '1048576',
      VIDEO_DELIVERY_DEFAULT: 'stream',
      FAULT_ERROR_RATIO: '0.25',
      FAULT_LATENCY_MS: '300',
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8081,
      metricsPort: 9999,
      metricsHost: '0.0.0.0',
      s3: { endpoint: 'http://minio:9000', bucket: 'b', region: 'eu-west-1' },
      redisUrl: 'redis://redis:6379',
      environment: 'production',
      uploadMaxBytes: 1048576,
      deliveryDefault: 'stream',
      faultErrorRatio: 0.25,
      faultLatencyMs: 300,
    });
  });
});

describe('session tokens', () => {
  it('round-trips a user id', () => {
    expect(verifyToken(signToken('alice', SECRET), SECRET)).toEqual({ userId: 'alice' });
  });

  it('rejects another secret, a flipped payload or signature byte, garbage and expired tokens', () => {
    const t = signToken('alice', SECRET);
    const [payload, sig] = t.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ u: 'admin', exp: 9_999_999_999 })).toString('base64url');
    expect(verifyToken(t, 'another-secret-of-some-length')).toBeNull();
    expect(verifyToken(`${forged}.${sig}`, SECRET)).toBeNull();
    // Every other last character of the signature, including those that decode to the same
    // bytes (its 2 low bits are padding), and a changed first character.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const c of alphabet) if (c !== sig.at(-1)) expect(verifyToken(`${payload}.${sig.slice(0, -1)}${c}`, SECRET)).toBeNull();
    expect(verifyToken(`${payload}.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`, SECRET)).toBeNull();
    for (const junk of ['', '.', 'a.b.c', 'x'.repeat(5000), `${payload}.`]) expect(verifyToken(junk, SECRET)).toBeNull();
    const now = Date.now();
    const short = signToken('alice', SECRET, 60, now);
    expect(verifyToken(short, SECRET, now + 59_000)).toEqual({ userId: 'alice' });
    expect(verifyToken(short, SECRET, now + 61_000)).toBeNull();
  });

  it('refuses user ids that could not go into S3 metadata', () => {
    expect(() => signToken('a b', SECRET)).toThrow();
    expect(() => signToken('x\r\ny', SECRET)).toThrow();
  });

  it('reads the token from a Bearer header or the session cookie', () => {
    expect(tokenFromRequest({ headers: { authorization: 'Bearer abc.def' } })).toBe('abc.def');
    expect(tokenFromRequest({ headers: { authorization: 'bearer   abc.def ' } })).toBe('abc.def');
    expect(tokenFromRequest({ headers: { cookie: 'theme=dark; session=abc.def; x=1' } })).toBe('abc.def');
    expect(tokenFromRequest({ headers: { authorization: 'Basic dXNlcjpwYXNz' } })).toBeUndefined();
    expect(tokenFromRequest({ headers: { cookie: 'sessionx=1' } })).toBeUndefined();
    expect(tokenFromRequest({ headers: {} })).toBeUndefined();
  });

  it('`npm run token -- <user>` prints a token that verifies with SESSION_SECRET', () => {
    const out = execFileSync(process.execPath, ['src/api/token-cli.ts', 'carol'], { env: { ...process.env, SESSION_SECRET: SECRET }, encoding: 'utf8' }).trim();
    expect(verifyToken(out, SECRET)).toEqual({ userId: 'carol' });
  });
});
