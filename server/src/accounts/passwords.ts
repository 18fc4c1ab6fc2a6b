import { hash, verify, type Algorithm } from '@node-rs/argon2';

/** `Algorithm.Argon2id`: the package's enum is `const`, which isolated modules cannot read at run time. */
const ARGON2ID = 2 as Algorithm.Argon2id;

/**
 * Password hashing parameters, in one place. argon2id at OWASP's first recommended setting (19 MiB, 2 passes,
 * 1 lane; ~50 ms here). They are stored in every hash (PHC string), so raising them later only needs a change
 * here: each user's hash is redone with the new ones at their next successful password login.
 */
export const PASSWORD_HASH_PARAMS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Never throws: a malformed stored hash is a mismatch. */
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** True when the hash was made with other parameters than today's. */
  needsRehash(passwordHash: string): boolean;
  /**
   * Spends the time of one verification on nothing: used for unknown usernames, so they answer in about the time
   * a wrong password takes.
   */
  verifyDummy(password: string): Promise<void>;
}

type Params = { memoryCost: number; timeCost: number; parallelism: number };

/** `$argon2id$v=19$m=19456,t=2,p=1$…` → its parameters; undefined when it is not an argon2id PHC string. */
export function parseArgon2idParams(passwordHash: string): Params | undefined {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!match) return undefined;
  return { memoryCost: Number(match[1]), timeCost: Number(match[2]), parallelism: Number(match[3]) };
}

export function createPasswordHasher(params: Params = PASSWORD_HASH_PARAMS): PasswordHasher {
  const options = { algorithm: ARGON2ID, ...params };
  // Made once, at start (off the main thread), with the same parameters as real hashes: verifying against it costs the same.
  const dummy = hash('wxkit dummy password for unknown usernames', options);
  dummy.catch(() => {});
  return {
    hash: (password) => hash(password, options),
    async verify(passwordHash, password) {
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    },
    needsRehash(passwordHash) {
      const stored = parseArgon2idParams(passwordHash);
      return (
        !stored ||
        stored.memoryCost !== params.memoryCost ||
        stored.timeCost !== params.timeCost ||
        stored.parallelism !== params.parallelism
      );
    },
    async verifyDummy(password) {
      await verify(await dummy, password).catch(() => false);
    },
  };
}
