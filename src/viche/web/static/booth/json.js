// Canonical JSON as the Python codec writes it (src/viche/protocol/codec.py: json.dumps with
// separators (",", ":") and ensure_ascii=False): compact, keys in insertion order, non-ASCII
// kept. For objects whose keys are not array indices and strings without lone surrogates,
// JSON.stringify writes exactly those bytes (same escapes: \" \\ \b \f \n \r \t and \u00XX in
// lower case for other control characters). dumps() refuses what would differ: numbers
// that are not safe integers and lone surrogates; protocol messages hold neither (every
// big number is a string).

import { BoothError, CODES } from "./errors.js";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const INDEX_KEY = /^(0|[1-9][0-9]*)$/;

function check(value) {
  if (value === null || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new BoothError(CODES.JSON_FORMAT, "only safe integers are written as JSON numbers");
    }
    return;
  }
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) {
      throw new BoothError(CODES.JSON_FORMAT, "a string holds a lone surrogate (not UTF-8)");
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach(check);
    return;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      if (INDEX_KEY.test(k)) {
        throw new BoothError(CODES.JSON_FORMAT, "an array-index key would change the key order");
      }
      check(k);
      check(v);
    }
    return;
  }
  throw new BoothError(CODES.JSON_FORMAT, `cannot write a ${typeof value} in protocol JSON`);
}

/** The canonical compact text of a JSON value (keys in the order the object was built). */
export function dumps(value) {
  check(value);
  return JSON.stringify(value);
}
