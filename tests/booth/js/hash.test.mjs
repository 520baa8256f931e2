import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { test } from "node:test";
import { STATIC } from "./support.mjs";

const H = await import(new URL("hash.js", STATIC));

test("sha256 equals node:crypto at every length around the block boundaries", () => {
  for (let n = 0; n < 300; n++) {
    const data = randomBytes(n);
    assert.equal(
      H.toHex(H.sha256(data)),
      createHash("sha256").update(data).digest("hex"),
      `length ${n}`,
    );
  }
});

test("sha256 differs when one bit of the input differs", () => {
  const data = randomBytes(100);
  const flipped = Uint8Array.from(data);
  flipped[37] ^= 4;
  assert.notEqual(H.toHex(H.sha256(data)), H.toHex(H.sha256(flipped)));
});

test("hmac and pbkdf2 equal node:crypto (short and long keys)", () => {
  for (const keyLength of [0, 5, 32, 64, 65, 200]) {
    const key = randomBytes(keyLength);
    const msg = randomBytes(77);
    assert.equal(
      H.toHex(H.hmacSha256(key, msg)),
      createHmac("sha256", key).update(msg).digest("hex"),
    );
  }
  for (const [iterations, length] of [
    [1, 32],
    [1000, 32],
    [3, 70],
  ]) {
    const pw = H.utf8("Nvd-xsf-f8f-koR-DeV");
    const salt = H.utf8("UQ3BXTkh4ErCj4");
    assert.equal(
      H.toHex(H.pbkdf2Sha256(pw, salt, iterations, length)),
      pbkdf2Sync(pw, salt, iterations, length, "sha256").toString("hex"),
    );
  }
});

test("base64 without padding equals Buffer's base64 minus '='", () => {
  for (let n = 0; n < 40; n++) {
    const data = randomBytes(n);
    assert.equal(H.base64NoPad(data), Buffer.from(data).toString("base64").replace(/=+$/, ""));
  }
});

test("hashToZq is the big-endian digest reduced mod q", () => {
  const q = 1000003n;
  const digest = createHash("sha256").update("prove|x").digest("hex");
  assert.equal(H.hashToZq("prove|x", q), BigInt("0x" + digest) % q);
  assert.notEqual(H.hashToZq("prove|y", q), H.hashToZq("prove|x", q));
});
