import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from '@20minutes/s3rver';
import AWSAccount from '@20minutes/s3rver/lib/models/account.js';

const OBJECT_SUFFIX = '._S3rver_object';

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  /** Random per run, long enough for the leak scan to look for it. */
  secretAccessKey: string;
  /** The server's S3_* variables for this bucket. */
  env: Record<string, string>;
  /** Every key in the bucket, sorted. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A real S3-compatible server over HTTP (s3rver: S3's REST API with SigV4 checks, objects on disk), on 127.0.0.1
 * port 0, with one bucket and a key pair of our own. Everything the AWS SDK v3 client sends reaches it as it would AWS.
 */
export async function startS3Server(bucket = 'wxkit-media'): Promise<TestS3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'wxkit-s3-'));
  const accessKeyId = `WXKITTEST${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = `s3-secret-${randomBytes(16).toString('hex')}`;
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    env: { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey },
    // Read from s3rver's folder (`<bucket>/<key>._S3rver_object`): its bucket-level requests (ListObjects) reject the
    // SDK's signature for the bucket path, and the server under test only ever makes object-level requests.
    async keys() {
      const objects = readdirSync(join(directory, bucket)).filter((name) => name.endsWith(OBJECT_SUFFIX));
      return objects.map((name) => name.slice(0, -OBJECT_SUFFIX.length)).sort();
    },
    async close() {
      await server.close();
      AWSAccount.DUMMY_ACCOUNT.revokeAccessKey(accessKeyId);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
