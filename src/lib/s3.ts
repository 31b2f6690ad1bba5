// The S3 boundary: the only module that calls S3. Every operation is a CLIENT span
// `s3.<operation>` with bucket/key/operation attributes, an observation of the S3 latency
// histogram by operation and outcome, and on failure ERROR status plus an exception event.
// Imported: the global `performance` is an accessor Node calls on every use.
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl as presign } from '@aws-sdk/s3-request-presigner';
import { SpanKind, type Attributes, type Span } from '@opentelemetry/api';
import {
  OUTCOMES,
  S3_ATTR,
  S3_DURATION,
  S3_DURATION_BUCKETS,
  S3_LABELS,
  S3_OPERATIONS,
  S3_CONNECT_TIMEOUT_MS,
  S3_SOCKET_IDLE_TIMEOUT_MS,
  s3SpanName,
  type Outcome,
  type S3Operation,
} from '../signals/index.ts';
import { histogram, observe, traceAsync } from '../telemetry/index.ts';

export interface S3Config {
  /** Custom endpoint (MinIO, s3rver); omit for AWS. */
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Attempts per operation including the first (SDK retries with backoff). Default 3. */
  maxAttempts?: number;
  /** Socket connect timeout in ms. Default S3_CONNECT_TIMEOUT_MS. */
  connectionTimeoutMs?: number;
  /** Socket idle timeout in ms (no bytes for this long fails the call). Default S3_SOCKET_IDLE_TIMEOUT_MS. */
  socketIdleTimeoutMs?: number;
}

export interface ObjectInfo {
  contentLength: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  lastModified?: Date;
}

export interface GetObjectResult extends ObjectInfo {
  body: Readable;
  /** `bytes start-end/size` when a range was requested. */
  contentRange?: string;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

const s3Duration = histogram(
  S3_DURATION,
  'Latency of S3 operations (one observation per src/lib/s3.ts call), by operation and outcome.',
  [S3_LABELS.operation, S3_LABELS.outcome],
  S3_DURATION_BUCKETS,
);
// Pre-create every series so rate() and error ratios have data from the first scrape.
for (const op of S3_OPERATIONS) for (const outcome of OUTCOMES) s3Duration.zero({ [S3_LABELS.operation]: op, [S3_LABELS.outcome]: outcome });

/** HTTP status of a failed S3 call, if the SDK got a response. */
export function s3StatusCode(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return meta?.httpStatusCode;
}

/** True when S3 said the object (or bucket) does not exist. */
export function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket' || s3StatusCode(err) === 404;
}

// S3 ETags arrive quoted (`"<md5>"`), which is also the HTTP ETag syntax; they are kept as is.
const etagOf = (etag: string | undefined): string => etag ?? '';

export class S3Store {
  readonly bucket: string;
  readonly client: S3Client;

  constructor(cfg: S3Config) {
    this.bucket = cfg.bucket;
    this.client = new S3Client({
      region: cfg.region,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
      // Path-style URLs work with every S3-compatible server (no wildcard DNS needed).
      forcePathStyle: true,
      // The SDK's default CRC32 trailing checksums make non-AWS servers (s3rver, older MinIO)
      // store the aws-chunked framing as object bytes; only send/validate when an API requires it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: cfg.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: cfg.connectionTimeoutMs ?? S3_CONNECT_TIMEOUT_MS,
        socketTimeout: cfg.socketIdleTimeoutMs ?? S3_SOCKET_IDLE_TIMEOUT_MS,
      },
    });
  }

  /**
   * Runs one S3 call as span `s3.<op>` and records its latency by outcome. A call that fails after
   * `signal` aborted was canceled by its caller: outcome `canceled`, not an S3 error.
   */
  private op<T>(operation: S3Operation, key: string | undefined, fn: (span: Span) => Promise<T>, extra: Attributes = {}, signal?: AbortSignal): Promise<T> {
    const attributes: Attributes = { [S3_ATTR.bucket]: this.bucket, [S3_ATTR.operation]: operation, ...extra };
    if (key !== undefined) attributes[S3_ATTR.key] = key;
    return traceAsync(
      s3SpanName(operation),
      async (span) => {
        const started = performance.now();
        let outcome: Outcome = 'error';
        try {
          const result = await fn(span);
          outcome = 'success';
          return result;
        } catch (err) {
          if (signal?.aborted === true) outcome = 'canceled';
          const status = s3StatusCode(err);
          if (status !== undefined) span.setAttribute(S3_ATTR.statusCode, status);
          throw err;
        } finally {
          observe(s3Duration, { [S3_LABELS.operation]: operation, [S3_LABELS.outcome]: outcome }, (performance.now() - started) / 1000);
        }
      },
      attributes,
      signal ? { kind: SpanKind.CLIENT, cancelSignal: signal } : { kind: SpanKind.CLIENT },
    );
  }

  headBucket(): Promise<void> {
    return this.op('head_bucket', undefined, async () => {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    });
  }

  /** Size, ETag, type and metadata of an object. Aborting `signal` aborts the request. */
  headObject(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return this.op('head_object', key, async (span) => {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), signal ? { abortSignal: signal } : {});
      span.setAttribute(S3_ATTR.statusCode, r.$metadata.httpStatusCode ?? 200);
      return {
        contentLength: r.ContentLength ?? 0,
        etag: etagOf(r.ETag),
        contentType: r.ContentType ?? 'application/octet-stream',
        metadata: r.Metadata ?? {},
        ...(r.LastModified ? { lastModified: r.LastModified } : {}),
      };
    }, {}, signal);
  }

  /**
   * GET of a whole object or one byte range (`bytes=start-end`). The span covers the request up
   * to the response headers; the body is a stream the caller pipes (with back-pressure) and must
   * consume or destroy. Aborting `signal` aborts the request and destroys its socket.
   */
  getObject(key: string, opts: { range?: string; signal?: AbortSignal } = {}): Promise<GetObjectResult> {
    return this.op(
      'get_object',
      key,
      async (span) => {
        const r = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(opts.range ? { Range: opts.range } : {}) }),
          opts.signal ? { abortSignal: opts.signal } : {},
        );
        span.setAttribute(S3_ATTR.statusCode, r.$metadata.httpStatusCode ?? 200);
        const body = r.Body instanceof Readable ? r.Body : Readable.from([]);
        if (opts.signal) {
          const signal = opts.signal;
          const onAbort = (): void => {
            body.destroy();
          };
          if (signal.aborted) onAbort();
          else {
            signal.addEventListener('abort', onAbort, { once: true });
            body.once('close', () => signal.removeEventListener('abort', onAbort));
          }
        }
        return {
          body,
          contentLength: r.ContentLength ?? 0,
          ...(r.ContentRange ? { contentRange: r.ContentRange } : {}),
          etag: etagOf(r.ETag),
          contentType: r.ContentType ?? 'application/octet-stream',
          metadata: r.Metadata ?? {},
          ...(r.LastModified ? { lastModified: r.LastModified } : {}),
        };
      },
      opts.range ? { [S3_ATTR.range]: opts.range } : {},
      opts.signal,
    );
  }

  /** A presigned GET URL. The URL is returned to the caller only: it never becomes an attribute. */
  getSignedUrl(key: string, expiresSeconds: number): Promise<string> {
    return this.op('get_signed_url', key, () =>
      presign(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresSeconds }),
    );
  }

  putObject(
    key: string,
    body: Buffer | Uint8Array | string,
    opts: { contentType?: string; metadata?: Record<string, string> } = {},
  ): Promise<{ etag: string }> {
    return this.op('put_object', key, async () => {
      const r = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          ...(opts.metadata ? { Metadata: opts.metadata } : {}),
        }),
      );
      return { etag: etagOf(r.ETag) };
    });
  }

  createMultipartUpload(key: string, opts: { contentType?: string; metadata?: Record<string, string> } = {}): Promise<string> {
    return this.op('create_multipart_upload', key, async (span) => {
      const r = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          ...(opts.metadata ? { Metadata: opts.metadata } : {}),
        }),
      );
      if (!r.UploadId) throw new Error('S3 returned no UploadId');
      span.setAttribute(S3_ATTR.uploadId, r.UploadId);
      return r.UploadId;
    });
  }

  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, signal?: AbortSignal): Promise<CompletedPart> {
    return this.op(
      'upload_part',
      key,
      async () => {
        const r = await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
          }),
          signal ? { abortSignal: signal } : {},
        );
        return { partNumber, etag: etagOf(r.ETag) };
      },
      { [S3_ATTR.uploadId]: uploadId, [S3_ATTR.partNumber]: partNumber },
      signal,
    );
  }

  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<{ etag: string }> {
    return this.op(
      'complete_multipart_upload',
      key,
      async () => {
        const r = await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        );
        return { etag: etagOf(r.ETag) };
      },
      { [S3_ATTR.uploadId]: uploadId },
    );
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.op(
      'abort_multipart_upload',
      key,
      async () => {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
      },
      { [S3_ATTR.uploadId]: uploadId },
    );
  }

  deleteObject(key: string): Promise<void> {
    return this.op('delete_object', key, async () => {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    });
  }

  /** Every object under `prefix` (all pages). */
  listObjects(prefix: string): Promise<{ key: string; size: number }[]> {
    return this.op('list_objects', undefined, async () => {
      const out: { key: string; size: number }[] = [];
      let token: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const r = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
        );
        for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
        if (!r.IsTruncated || !r.NextContinuationToken) break;
        token = r.NextContinuationToken;
      }
      return out;
    }, { [S3_ATTR.prefix]: prefix });
  }

  /** Releases the SDK's sockets. */
  destroy(): void {
    this.client.destroy();
  }
}

export function createS3Store(cfg: S3Config): S3Store {
  return new S3Store(cfg);
}
