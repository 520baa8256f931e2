// Errors of the booth's cryptography, with the stable codes of src/viche/errors.py, so that
// a page can translate them by code. `where` names the place ({question: 1-based index,
// choice, field}); a message never quotes a secret (the private credential).

export class BoothError extends Error {
  constructor(code, message, where = {}) {
    super(message);
    this.name = "BoothError";
    this.code = code;
    this.where = where;
  }
}

export const CODES = Object.freeze({
  JSON_FORMAT: "V1001",
  NUMBER_FORMAT: "V1003",
  CREDENTIAL_FORMAT: "V1004",
  GROUP_MEMBERSHIP: "V2001",
  PROTOCOL: "V3000",
  WRONG_ELECTION: "V3003",
  BALLOT_SHAPE: "V3004",
  UNSUPPORTED: "V3099",
});
