// The two groups of Belenios 2.0 (specification section 5), as src/viche/crypto/group.py
// defines them, with exponentiation, membership checks and the parser of big numbers.
// Elements and exponents are native BigInt.

import { BoothError, CODES } from "./errors.js";

const BELENIOS_P = [
  "2069478569142254640101364365750500806492298929575110409710088478705737421924",
  "2717401922237254497684338129066633138078958404960054389636289796393038773905",
  "7228036059737494276713767776188985898727358650490811670993105358677809800307",
  "9049165406377717376419867852727347447634183560003569830519314428456170191100",
  "0786737307333564123971732897913240474578834468260652327974647951137672658693",
  "5821800463179220736688600526271863633860887968821207694323661494910029234443",
  "4637322214588410058642105024212036543356120132048111885240873107701415166620",
  "0162313177169372189248078507711827842317498073276598828825169183103125680162",
  "072880719",
].join("");
const BELENIOS_Q = [
  "7857173325107188507992765981267145012182142125840879461151008191980562322344",
  "1",
].join("");
const BELENIOS_G = [
  "2402352677501852209227687703532399932712287657378364916510075318787663274146",
  "3532193202856761552696787996946682987493890950838965734256019006010684771644",
  "9173547413728310461045868131451178164675540052740288984613986453266121505579",
  "7097162016168270312886432456663834863635782106154918419982534315189740658186",
  "8686511513585764101388822153960160432288436039309893336627728484065931384060",
  "1023167509576377798266510360682240663507669776402534625377308513317349519424",
  "8967754052573659049492477631475991575198775177711481490920456600205478127054",
  "7282381409725186398583341157005683536955534237814755824918960502966800377453",
  "08460627",
].join("");
const RFC3526_P = [
  "3231700607131100730033891392642382824881794124114023911284200975140074170663",
  "4354222619689417363569347117901737909704191754605873209195028853758986185622",
  "1532121754125149017745202702357960782362488842461894775876411059286460994117",
  "2324542662252219323054091903768052423551912567971587011700105805587765103886",
  "1847280257976054903569732561526167081339361799541336476559160368317896729073",
  "1783845896806396719009772021941686472258710314113364293195361934716365332097",
  "1707744822798858856536920864529663607725026895550592836275112117409697299806",
  "8410554359584866583291642136218231078990999448652468262416972035911852507045",
  "361090559",
].join("");
const RFC3526_Q = [
  "1615850303565550365016945696321191412440897062057011955642100487570037085331",
  "7177111309844708681784673558950868954852095877302936604597514426879493092811",
  "0766060877062574508872601351178980391181244421230947387938205529643230497058",
  "6162271331126109661527045951884026211775956283985793505850052902793882551943",
  "0923640128988027451784866280763083540669680899770668238279580184158948364536",
  "5891922948403198359504886010970843236129355157056682146597680967358182666048",
  "5853872411399429428268460432264831803862513447775296418137556058704848649903",
  "4205277179792433291645821068109115539495499724326234131208486017955926253522",
  "680545279",
].join("");
const RFC3526_G = "2";

function makeGroup(name, p, q, g, embedding, safePrime) {
  return Object.freeze({
    name,
    p: BigInt(p),
    q: BigInt(q),
    g: BigInt(g),
    qBits: BigInt(q).toString(2).length,
    embedding,
    safePrime,
  });
}

export const GROUPS = Object.freeze({
  "BELENIOS-2048": makeGroup("BELENIOS-2048", BELENIOS_P, BELENIOS_Q, BELENIOS_G, null, false),
  "RFC-3526-2048": makeGroup(
    "RFC-3526-2048",
    RFC3526_P,
    RFC3526_Q,
    RFC3526_G,
    Object.freeze({ padding: 8, bitsPerInt: 8 }),
    true,
  ),
});

/** The group called `name` in an election; only the two of the specification exist. */
export function groupByName(name) {
  if (!Object.hasOwn(GROUPS, name)) {
    throw new BoothError(
      CODES.PROTOCOL,
      `unknown group ${JSON.stringify(String(name))}; expected one of ${Object.keys(GROUPS).join(", ")}`,
      { field: "group" },
    );
  }
  return GROUPS[name];
}

/** x mod m in [0, m), also for negative x. */
export function mod(x, m) {
  const r = x % m;
  return r < 0n ? r + m : r;
}

/** base^exp mod p for any base (sliding window of 5 bits); exp >= 0. */
export function modPow(base, exp, p) {
  if (exp === 0n) return 1n;
  base = mod(base, p);
  const odd = new Array(16); // base^1, base^3, ..., base^31
  odd[0] = base;
  const sq = (base * base) % p;
  for (let i = 1; i < 16; i++) odd[i] = (odd[i - 1] * sq) % p;
  const bits = exp.toString(2);
  let acc = 1n;
  let started = false;
  let i = 0;
  while (i < bits.length) {
    if (bits[i] === "0") {
      if (started) acc = (acc * acc) % p;
      i++;
      continue;
    }
    let j = Math.min(i + 5, bits.length);
    while (bits[j - 1] === "0") j--;
    const window = parseInt(bits.slice(i, j), 2);
    if (started) for (let k = i; k < j; k++) acc = (acc * acc) % p;
    acc = started ? (acc * odd[window >> 1]) % p : odd[window >> 1];
    started = true;
    i = j;
  }
  return acc;
}

/** The Jacobi symbol (a/n) for odd n > 0. */
export function jacobi(a, n) {
  a = mod(a, n);
  let t = 1;
  while (a !== 0n) {
    while ((a & 1n) === 0n) {
      a >>= 1n;
      const r = n & 7n;
      if (r === 3n || r === 5n) t = -t;
    }
    [a, n] = [n, a];
    if ((a & 3n) === 3n && (n & 3n) === 3n) t = -t;
    a %= n;
  }
  return n === 1n ? t : 0;
}

/** True when 0 < x < p and x lies in the order-q subgroup. */
export function isElement(group, x) {
  if (typeof x !== "bigint" || x <= 0n || x >= group.p) return false;
  if (group.safePrime) return jacobi(x, group.p) === 1; // the quadratic residues
  return modPow(x, group.q, group.p) === 1n;
}

const DIGITS = /^(0|[1-9][0-9]*)$/;

/** A big number as the protocol writes it: a JSON string, base 10, no sign, no leading
 * zeros. The message never quotes the value (the same parser could read a secret). */
export function parseNumber(text, where = {}) {
  if (typeof text !== "string") {
    throw new BoothError(
      CODES.NUMBER_FORMAT,
      `expected a base-10 number in a JSON string, got ${typeof text}`,
      where,
    );
  }
  if (text.length === 0 || text.length > 2000 || !DIGITS.test(text)) {
    throw new BoothError(CODES.NUMBER_FORMAT, "not a canonical base-10 number", where);
  }
  return BigInt(text);
}
