import assert from "node:assert/strict";
import { test } from "node:test";
import { STATIC, vectors } from "./support.mjs";

const { ALPHABET, checkCredential, checksumChar, credentialSecret } = await import(
  new URL("credential.js", STATIC)
);
const { GROUPS, modPow } = await import(new URL("group.js", STATIC));
const { parseElection } = await import(new URL("election.js", STATIC));

test("the public credentials of the vectors are g^s of the derived secrets", () => {
  for (const v of Object.values(vectors()).filter((v) => v.credential)) {
    const election = parseElection(v.election);
    const { group } = election;
    const s = credentialSecret(group, v.credential, election.uuid);
    assert.equal(modPow(group.g, s, group.p).toString(), v.public_credential, v.name);
    // Without dashes, surrounded by spaces: the same secret (the dashed form is hashed).
    const bare = `  ${v.credential.replaceAll("-", "")}\n`;
    assert.equal(credentialSecret(group, bare, election.uuid), s);
  }
});

test("a reference credential of belenios-tool whose check digit is 53 ('v') is valid", () => {
  // 14 characters whose value is 0 mod 53 get the unreduced check digit 53.
  const body = "11111111111111";
  assert.equal(checksumChar(body), "v");
  assert.equal(ALPHABET.indexOf("v"), 53);
  assert.equal(checkCredential("111-111-111-111-11v"), "111-111-111-111-11v");
});

test("wrong credentials are refused with a clear message that does not repeat them", () => {
  const good = "Nvd-xsf-f8f-koR-DeV";
  assert.equal(checkCredential(good), good);
  const cases = [
    ["Nvd-xsf-f8f-koR-DeW", /wrong checksum/],
    ["Nvd-xsf-f8f-koR-De", /wrong length: 18 characters/],
    ["Nvd_xsf-f8f-koR-DeV", /dashes at positions/],
    ["Nvd-xsf-f8f-koR-D0V", /wrong alphabet: .*\[14\]/],
    ["", /wrong length: 0/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => checkCredential(text),
      (e) => e.code === "V1004" && message.test(e.message) && !(text && e.message.includes(text)),
      text,
    );
  }
  assert.throws(
    () => credentialSecret(GROUPS["BELENIOS-2048"], "Nvd-xsf-f8f-koR-DeW", "UQ3BXTkh4ErCj4"),
    { code: "V1004" },
  );
});
