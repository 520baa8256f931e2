// Voter credentials (specification 4.8, FORMAT.md section 4), as src/viche/crypto/credentials.py.
//
// A private credential is XXX-XXX-XXX-XXX-XXX: 14 base58 characters and a check character
// ALPHABET[53 - (n mod 53)] (never reduced: n = 0 mod 53 gives "v"), n being the first 14
// characters read as a base-58 number. The secret is PBKDF2-HMAC-SHA256 of the credential
// *with its dashes* (salt: the election uuid, 1000 iterations, 32 bytes) read big-endian
// mod q; the public credential is g^s. Messages never repeat the credential.

import { BoothError, CODES } from "./errors.js";
import { bytesToBigInt, pbkdf2Sha256, utf8 } from "./hash.js";

export const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const DIGIT = new Map(Array.from(ALPHABET, (ch, i) => [ch, i]));

function fail(message) {
  return new BoothError(CODES.CREDENTIAL_FORMAT, message, { field: "credential" });
}

/** The check character of 14 base58 characters. */
export function checksumChar(body) {
  let n = 0n;
  for (const ch of body) n = n * 58n + BigInt(DIGIT.get(ch));
  return ALPHABET[53 - Number(n % 53n)];
}

/** Validate a private credential typed with or without dashes (surrounding whitespace is
 * ignored); return the dashed form. Throws a BoothError (code V1004) naming the problem:
 * length, dashes, alphabet or checksum. */
export function checkCredential(text) {
  if (typeof text !== "string") throw fail("the credential must be text");
  const stripped = text.trim();
  let chars;
  if (stripped.length === 19) {
    if ([3, 7, 11, 15].some((i) => stripped[i] !== "-")) {
      throw fail("wrong format: expected dashes at positions 4, 8, 12 and 16");
    }
    chars = [0, 4, 8, 12, 16].map((i) => stripped.slice(i, i + 3)).join("");
  } else if (stripped.length === 15) {
    chars = stripped;
  } else {
    throw fail(`wrong length: ${stripped.length} characters, expected 15 (or 19 with dashes)`);
  }
  const bad = [];
  for (let i = 0; i < chars.length; i++) if (!DIGIT.has(chars[i])) bad.push(i + 1);
  if (bad.length) {
    throw fail(`wrong alphabet: character(s) at position(s) [${bad.join(", ")}] are not base58`);
  }
  if (chars[14] !== checksumChar(chars.slice(0, 14))) {
    throw fail("wrong checksum: the last character does not match");
  }
  return [0, 3, 6, 9, 12].map((i) => chars.slice(i, i + 3)).join("-");
}

/** s = PBKDF2-HMAC-SHA256(dashed credential, uuid, 1000, 32 bytes) mod q. */
export function credentialSecret(group, credential, uuid) {
  const dashed = checkCredential(credential);
  const key = pbkdf2Sha256(utf8(dashed), utf8(uuid), 1000, 32);
  return bytesToBigInt(key) % group.q;
}
