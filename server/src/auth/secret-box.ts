import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { randomBytesPooled } from './random-id.ts';

/**
 * Encryption at rest for server-side secrets (WeChat's session_key): AES-256-GCM with a key derived by HKDF from the
 * server secret, so a copied database file alone hands out nothing. Sealed form: `v1.<iv>.<ciphertext>.<tag>` (base64url).
 */
export interface SecretBox {
  seal(plaintext: string): string;
  /** null when the value was sealed with another key or tampered with. */
  open(sealed: string): string | null;
}

export function createSecretBox(serverSecret: string, purpose = 'wxkit session_key at rest v1'): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(serverSecret, 'utf8'), Buffer.alloc(0), purpose, 32));
  return {
    seal(plaintext) {
      const iv = randomBytesPooled(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, iv, ciphertext, tag] = sealed.split('.');
      if (version !== 'v1' || iv === undefined || ciphertext === undefined || tag === undefined) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}
