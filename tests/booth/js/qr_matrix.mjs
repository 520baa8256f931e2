// Prints the QR matrices (rows of 0/1) of the texts given as JSON on stdin, for
// tests/booth/test_qr.py, which decodes them with zbarimg.
import { readFileSync } from "node:fs";
import { STATIC } from "./support.mjs";

const { qrMatrix } = await import(new URL("../common/qr.js", STATIC));
const texts = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(texts.map((t) => qrMatrix(t).map((r) => r.map(Number)))));
