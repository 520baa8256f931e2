// The election as the booth needs it (specification 4.9-4.10, FORMAT.md section 2), parsed
// from its exact text: the fingerprint is the hash of those bytes, never of a
// re-serialisation. The checks follow src/viche/protocol/election.py; every error names
// the field (BoothError with `where`).

import { BoothError, CODES } from "./errors.js";
import { groupByName, isElement, parseNumber } from "./group.js";
import { b64Sha256 } from "./hash.js";

const UUID = /^[123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{14,}$/;
const NON_HOMOMORPHIC = "NonHomomorphic";

function jsonError(message, where) {
  return new BoothError(CODES.JSON_FORMAT, message, where);
}

function expectObject(value, where, required, optional = []) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw jsonError("expected a JSON object", where);
  }
  const missing = required.filter((k) => !Object.hasOwn(value, k));
  if (missing.length) throw jsonError(`missing field(s) ${missing.join(", ")}`, where);
  const extra = Object.keys(value).filter((k) => !required.includes(k) && !optional.includes(k));
  if (extra.length) throw jsonError(`unexpected field(s) ${extra.join(", ")}`, where);
  return value;
}

function expectString(value, where) {
  if (typeof value !== "string") throw jsonError("expected a string", where);
  return value;
}

function expectInt(value, where) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw jsonError("expected a non-negative integer", where);
  }
  return value;
}

function expectStrings(value, where) {
  if (!Array.isArray(value)) throw jsonError("expected a JSON array", where);
  value.forEach((v, i) => expectString(v, { ...where, answer: i + 1 }));
  return value;
}

function parseQuestion(value, where, group) {
  if (value !== null && typeof value === "object" && Object.hasOwn(value, "type")) {
    const obj = expectObject(value, where, ["type", "value"]);
    if (obj.type !== NON_HOMOMORPHIC) {
      throw new BoothError(CODES.UNSUPPORTED, "unknown question type", { ...where, field: "type" });
    }
    const inner = expectObject(obj.value, { ...where, field: "value" }, ["answers", "question"]);
    const answers = expectStrings(inner.answers, { ...where, field: "answers" });
    expectString(inner.question, { ...where, field: "question" });
    if (answers.length === 0) {
      throw new BoothError(CODES.PROTOCOL, "a question needs at least one answer", where);
    }
    const emb = group.embedding;
    if (emb === null) {
      throw new BoothError(
        CODES.PROTOCOL,
        `non-homomorphic questions need a group with an embedding; ${group.name} has none`,
        where,
      );
    }
    if (answers.length * emb.bitsPerInt + emb.padding >= group.p.toString(2).length - 1) {
      throw new BoothError(
        CODES.PROTOCOL,
        `${answers.length} answers do not fit in one element of ${group.name}`,
        where,
      );
    }
    return Object.freeze({ kind: "nh", answers: answers.length });
  }
  const obj = expectObject(value, where, ["answers", "min", "max", "question"], ["blank"]);
  const answers = expectStrings(obj.answers, { ...where, field: "answers" });
  let blank = false;
  if (Object.hasOwn(obj, "blank")) {
    if (typeof obj.blank !== "boolean")
      throw jsonError("expected a boolean", { ...where, field: "blank" });
    blank = obj.blank;
  }
  const min = expectInt(obj.min, { ...where, field: "min" });
  const max = expectInt(obj.max, { ...where, field: "max" });
  expectString(obj.question, { ...where, field: "question" });
  const n = answers.length;
  if (n === 0) throw new BoothError(CODES.PROTOCOL, "a question needs at least one answer", where);
  if (!(min <= max && max <= n)) {
    throw new BoothError(
      CODES.PROTOCOL,
      `need 0 <= min <= max <= number of answers, got min=${min}, max=${max}, ${n} answer(s)`,
      where,
    );
  }
  return Object.freeze({ kind: "h", answers: n, blank, min, max });
}

/** Parse and check the text of an election. Returns a frozen object: raw (the text),
 * fingerprint, uuid, group, y (the election key) and questions ({kind: "h", answers,
 * blank, min, max} or {kind: "nh", answers}). */
export function parseElection(text) {
  if (typeof text !== "string" || text.length === 0) throw jsonError("empty election", {});
  let value;
  try {
    value = JSON.parse(text);
  } catch (exc) {
    throw jsonError(`invalid JSON: ${exc.message}`, {});
  }
  const obj = expectObject(
    value,
    {},
    ["version", "description", "name", "group", "public_key", "questions", "uuid"],
    ["administrator", "credential_authority"],
  );
  if (obj.version !== 1) {
    throw new BoothError(CODES.UNSUPPORTED, "only election version 1 exists", { field: "version" });
  }
  expectString(obj.description, { field: "description" });
  expectString(obj.name, { field: "name" });
  for (const k of ["administrator", "credential_authority"]) {
    if (Object.hasOwn(obj, k)) expectString(obj[k], { field: k });
  }
  const uuid = expectString(obj.uuid, { field: "uuid" });
  if (!UUID.test(uuid)) {
    throw new BoothError(
      CODES.PROTOCOL,
      "an election uuid is a string of at least 14 Base58 characters",
      {
        field: "uuid",
      },
    );
  }
  const group = groupByName(expectString(obj.group, { field: "group" }));
  const y = parseNumber(obj.public_key, { field: "public_key" });
  if (!isElement(group, y)) {
    throw new BoothError(CODES.GROUP_MEMBERSHIP, `value is not an element of group ${group.name}`, {
      field: "public_key",
    });
  }
  if (!Array.isArray(obj.questions))
    throw jsonError("expected a JSON array", { field: "questions" });
  if (obj.questions.length === 0) {
    throw new BoothError(CODES.PROTOCOL, "an election needs at least one question", {
      field: "questions",
    });
  }
  const questions = Object.freeze(
    obj.questions.map((q, i) => parseQuestion(q, { field: "questions", question: i + 1 }, group)),
  );
  return Object.freeze({ raw: text, fingerprint: b64Sha256(text), uuid, group, y, questions });
}
