#!/bin/sh
# One-shot bucket init for docker compose (service minio-init, image minio/mc). Idempotent:
# safe on every `docker compose up`. Exits non-zero only if the bucket cannot be created, which
# keeps video-api and video-worker from starting against a missing bucket.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET"

# Lifecycle: abort multipart uploads left incomplete for a day (an upload killed mid-stream
# leaves parts that cost storage and are invisible to ListObjects). This is the rule to apply
# on AWS S3 and most S3 services. MinIO rejects or drops the AbortIncompleteMultipartUpload
# action and instead expires stale uploads itself (MINIO_API_STALE_UPLOADS_EXPIRY=24h on the
# minio service), so a refusal here is reported, not fatal.
if mc ilm rule import "local/$S3_BUCKET" < /init/lifecycle.json; then
  echo "lifecycle rule applied to $S3_BUCKET"
else
  echo "MinIO did not accept AbortIncompleteMultipartUpload; stale multipart uploads expire after MINIO_API_STALE_UPLOADS_EXPIRY instead"
fi

echo "bucket $S3_BUCKET ready"
