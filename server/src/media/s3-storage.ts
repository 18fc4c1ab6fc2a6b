import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { assertMediaKey, IMMUTABLE_CACHE, type MediaStorage } from './media-storage.ts';

export interface S3StorageOptions {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Not found, however the service says it: HEAD has no body, so only the status is certain. */
function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/**
 * An S3-compatible bucket (AWS, MinIO, Ceph RGW, Garage, R2, OSS/COS in S3 mode …) through the AWS SDK v3 client,
 * path-style (`<endpoint>/<bucket>/<key>`), which every S3-compatible server understands.
 */
export function createS3MediaStorage(options: S3StorageOptions): MediaStorage {
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    // Checksums only where S3 requires them: many S3-compatible servers reject the SDK's newer default trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A stuck bucket must not hold an upload forever (the SDK retries 3 times on top of these).
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
  });
  const Bucket = options.bucket;

  return {
    description: `bucket ${options.bucket} at ${new URL(options.endpoint).origin}`,

    async put(key, bytes, contentType) {
      assertMediaKey(key);
      // Keys are content-addressed: served straight from the bucket (or a CDN in front of it) they may be cached forever too.
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: bytes, ContentType: contentType, CacheControl: IMMUTABLE_CACHE }));
    },

    async get(key) {
      assertMediaKey(key);
      try {
        const object = await client.send(new GetObjectCommand({ Bucket, Key: key }));
        if (!object.Body) return undefined;
        return Buffer.from(await object.Body.transformToByteArray());
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async exists(key) {
      assertMediaKey(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },

    async delete(key) {
      assertMediaKey(key);
      // S3 answers 204 for a key that is not there, as this interface wants.
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },

    async close() {
      client.destroy();
    },
  };
}
