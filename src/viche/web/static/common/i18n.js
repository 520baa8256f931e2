// Every string of the booth and the pages, Ukrainian first, from this one catalogue.
// t(key, params) fills {name} placeholders; the language is kept in localStorage.

export const CATALOGUE = {
  uk: {
    "lang.name": "Українська",
    "lang.switch": "English",
    "lang.switchLabel": "English — switch to English",
    "app.title": "Віче — кабіна для голосування",
    "app.skip": "Перейти до змісту",
    "pages.title": "Віче — вибори",
    "pages.elections": "Вибори на цьому сервері",
    "pages.none": "Виборів ще немає.",
    "pages.open": "Голосувати",
    "pages.page": "Сторінка виборів",
    "pages.box": "Урна з бюлетенями",
    "pages.phase.open": "триває голосування",
    "pages.phase.closed": "голосування завершено",
    "pages.phase.tallied": "результати підраховано",
    "pages.ballots": "Бюлетенів у записі: {n}",
    "pages.questions": "Питання",
    "pages.fingerprint": "Відбиток виборів",
    "pages.trustees": "Довірені особи",
    "pages.trusteeKey": "Ключ довіреної особи {n}",
    "pages.archive": "Завантажити публічний запис (.bel)",
    "pages.verifyHow": "Перевірте самі: viche verify ФАЙЛ.bel або belenios-tool election verify.",
    "pages.search": "Знайти номер відстеження",
    "pages.found": "Знайдено {n} з {total}",
    "pages.tracker": "Номер відстеження",
    "pages.height": "Подія",
    "pages.back": "Усі вибори",
    "step.choose": "Оберіть вибори",
    "step.login": "Вхід",
    "step.credential": "Ваш приватний ключ виборця",
    "step.question": "Питання {n} з {total}",
    "step.review": "Перевірте свій вибір",
    "step.encrypt": "Шифрування",
    "step.encrypted": "Бюлетень зашифровано",
    "step.audit": "Перевірка бюлетеня (аудит)",
    "step.done": "Ваш голос прийнято",
    "choose.loading": "Завантаження списку виборів…",
    "choose.none": "Зараз немає відкритих виборів.",
    "choose.ballots.one": "{n} бюлетень",
    "choose.ballots.few": "{n} бюлетені",
    "choose.ballots.many": "{n} бюлетенів",
    "election.loading": "Завантаження виборів…",
    "election.fingerprint": "Відбиток: {f}",
    "election.closed": "Ці вибори не приймають бюлетенів (етап: {phase}).",
    "login.intro": "Введіть логін і секрет для входу, які ви отримали разом із ключем виборця.",
    "login.login": "Логін",
    "login.secret": "Секрет для входу",
    "login.missing": "Введіть логін і секрет.",
    "cred.intro": "Введіть або вставте приватний ключ виборця (15 символів, з рисками або без). Він не залишає цей пристрій.",
    "cred.label": "Приватний ключ виборця",
    "cred.hint": "Формат: XXX-XXX-XXX-XXX-XXX",
    "cred.ok": "Ключ правильний.",
    "cred.length": "Неправильна довжина: {n} символів, потрібно 15 (або 19 з рисками).",
    "cred.dashes": "Риски мають бути на позиціях 4, 8, 12 і 16.",
    "cred.alphabet": "Недопустимі символи (позиції {pos}). Ключ не містить 0, O, I та l.",
    "cred.checksum": "Контрольний символ не збігається: перевірте, чи немає помилки.",
    "scan.intro": "Або зчитайте QR-код з вашого листа з ключем:",
    "scan.camera": "Сканувати камерою",
    "scan.stop": "Зупинити камеру",
    "scan.photo": "Фото QR-коду",
    "scan.none": "На зображенні не знайдено QR-коду. Спробуйте ще раз або введіть ключ.",
    "scan.unreadable": "Не вдалося прочитати це зображення.",
    "scan.noCamera": "Камера недоступна (немає дозволу або камери). Можна вибрати фото QR-коду.",
    "scan.absent": "Цей браузер не читає QR-коди; введіть або вставте ключ.",
    "q.rule": "Оберіть від {min} до {max} відповідей.",
    "q.ruleExact": "Оберіть рівно {n} відповідей.",
    "q.ruleOne": "Оберіть одну відповідь.",
    "q.ruleUpTo": "Оберіть не більше {max} відповідей.",
    "q.blankRule": "Можна також проголосувати порожнім бюлетенем за це питання.",
    "q.blank": "Порожній голос (не обирати жодної відповіді)",
    "q.count": "Обрано: {n}",
    "q.tooFew": "Оберіть щонайменше {min}.",
    "q.full": "Обрано максимум ({max}); щоб змінити, спочатку зніміть іншу позначку.",
    "q.nhRule": "Поставте кожній відповіді число від 0 до 255 (наприклад, місце в рейтингу).",
    "q.nhBad": "Кожне значення — ціле число від 0 до 255.",
    "review.blank": "Порожній голос",
    "review.none": "Нічого не обрано",
    "review.edit": "Змінити",
    "nav.next": "Далі",
    "nav.back": "Назад",
    "nav.encrypt": "Зашифрувати",
    "enc.tables": "Підготовка таблиць шифрування…",
    "enc.ballot": "Шифрування і доведення бюлетеня…",
    "enc.done": "Готово.",
    "enc.progress": "Хід шифрування",
    "encd.tracker": "Номер відстеження цього бюлетеня:",
    "encd.choice": "Тепер ви можете надіслати бюлетень або перевірити його (аудит). Перевірений бюлетень ніколи не надсилається.",
    "encd.cast": "Надіслати бюлетень",
    "encd.audit": "Перевірити (аудит)",
    "encd.casting": "Надсилання…",
    "audit.intro": "Це випадкові числа, якими зашифровано ваш бюлетень. З ними на іншому пристрої можна перевірити, що бюлетень містить саме ваш вибір. Цей бюлетень більше не можна надіслати.",
    "audit.download": "Завантажити дані аудиту",
    "audit.again": "Зашифрувати знову",
    "audit.how": "Перевірте на комп’ютері: viche ballot audit ФАЙЛ --server {url}",
    "audit.registered": "Сервер знає, що цей бюлетень перевірено, і ніколи його не прийме.",
    "audit.unregistered": "Сервер не підтвердив аудит ({code}); ця кабіна все одно ніколи не надішле цей бюлетень.",
    "done.revote": "Це повторне голосування: новий бюлетень замінює попередній.",
    "done.tracker": "Номер відстеження:",
    "done.receipt": "Підписана квитанція",
    "done.download": "Завантажити квитанцію",
    "done.qr": "QR-код підписаної квитанції",
    "done.print": "Надрукувати",
    "done.box": "Знайти свій бюлетень в урні",
    "done.keep": "Збережіть квитанцію: вона доводить, що сервер прийняв ваш бюлетень.",
    "err.network": "Сервер недоступний. Перевірте з’єднання і спробуйте ще раз.",
    "err.auth": "Логін або секрет неправильні.",
    "err.binding": "Цей ключ виборця не належить цьому логіну.",
    "err.phase": "Вибори не приймають бюлетенів.",
    "err.server": "Сервер відхилив бюлетень ({code}): {message}",
    "err.crypto": "Помилка шифрування ({code}): {message}",
    "err.election": "Не вдалося завантажити вибори.",
  },
  en: {
    "lang.name": "English",
    "lang.switch": "Українська",
    "lang.switchLabel": "Українська — перейти на українську",
    "app.title": "Viche — voting booth",
    "app.skip": "Skip to content",
    "pages.title": "Viche — elections",
    "pages.elections": "Elections on this server",
    "pages.none": "No elections yet.",
    "pages.open": "Vote",
    "pages.page": "Election page",
    "pages.box": "Ballot box",
    "pages.phase.open": "voting is open",
    "pages.phase.closed": "voting is closed",
    "pages.phase.tallied": "tallied",
    "pages.ballots": "Ballots in the record: {n}",
    "pages.questions": "Questions",
    "pages.fingerprint": "Election fingerprint",
    "pages.trustees": "Trustees",
    "pages.trusteeKey": "Key of trustee {n}",
    "pages.archive": "Download the public record (.bel)",
    "pages.verifyHow": "Verify it yourself: viche verify FILE.bel or belenios-tool election verify.",
    "pages.search": "Find a tracker",
    "pages.found": "{n} of {total} found",
    "pages.tracker": "Tracker",
    "pages.height": "Event",
    "pages.back": "All elections",
    "step.choose": "Choose the election",
    "step.login": "Log in",
    "step.credential": "Your private credential",
    "step.question": "Question {n} of {total}",
    "step.review": "Review your choices",
    "step.encrypt": "Encrypting",
    "step.encrypted": "Your ballot is encrypted",
    "step.audit": "Ballot audit",
    "step.done": "Your vote was accepted",
    "choose.loading": "Loading the elections…",
    "choose.none": "No election is open now.",
    "choose.ballots.one": "{n} ballot",
    "choose.ballots.other": "{n} ballots",
    "election.loading": "Loading the election…",
    "election.fingerprint": "Fingerprint: {f}",
    "election.closed": "This election does not accept ballots (phase: {phase}).",
    "login.intro": "Enter the login and login secret you received with your credential.",
    "login.login": "Login",
    "login.secret": "Login secret",
    "login.missing": "Enter your login and secret.",
    "cred.intro": "Type or paste your private credential (15 characters, with or without dashes). It never leaves this device.",
    "cred.label": "Private credential",
    "cred.hint": "Format: XXX-XXX-XXX-XXX-XXX",
    "cred.ok": "The credential is well formed.",
    "cred.length": "Wrong length: {n} characters, expected 15 (or 19 with dashes).",
    "cred.dashes": "The dashes must be at positions 4, 8, 12 and 16.",
    "cred.alphabet": "Characters not allowed (positions {pos}). A credential has no 0, O, I or l.",
    "cred.checksum": "The check character does not match: look for a typing mistake.",
    "scan.intro": "Or read the QR code of your credential letter:",
    "scan.camera": "Scan with the camera",
    "scan.stop": "Stop the camera",
    "scan.photo": "Photo of the QR code",
    "scan.none": "No QR code found in the picture. Try again, or type the credential.",
    "scan.unreadable": "This picture could not be read.",
    "scan.noCamera": "No camera available (no permission or no camera). You can pick a photo of the QR code.",
    "scan.absent": "This browser does not read QR codes; type or paste the credential.",
    "q.rule": "Choose between {min} and {max} answers.",
    "q.ruleExact": "Choose exactly {n} answers.",
    "q.ruleOne": "Choose one answer.",
    "q.ruleUpTo": "Choose at most {max} answers.",
    "q.blankRule": "You may also vote blank on this question.",
    "q.blank": "Blank vote (choose no answer)",
    "q.count": "Chosen: {n}",
    "q.tooFew": "Choose at least {min}.",
    "q.full": "You chose the maximum ({max}); untick another answer first to change.",
    "q.nhRule": "Give each answer a number from 0 to 255 (for instance its rank).",
    "q.nhBad": "Every value is a whole number from 0 to 255.",
    "review.blank": "Blank vote",
    "review.none": "Nothing chosen",
    "review.edit": "Change",
    "nav.next": "Next",
    "nav.back": "Back",
    "nav.encrypt": "Encrypt",
    "enc.tables": "Preparing the encryption tables…",
    "enc.ballot": "Encrypting and proving the ballot…",
    "enc.done": "Done.",
    "enc.progress": "Encryption progress",
    "encd.tracker": "This ballot's tracker:",
    "encd.choice": "You can now cast this ballot or audit it. An audited ballot is never cast.",
    "encd.cast": "Cast the ballot",
    "encd.audit": "Audit it",
    "encd.casting": "Casting…",
    "audit.intro": "These are the random numbers that encrypted your ballot. With them a second device can check that the ballot holds exactly your choices. This ballot can no longer be cast.",
    "audit.download": "Download the audit data",
    "audit.again": "Encrypt again",
    "audit.how": "Check it on a computer: viche ballot audit FILE --server {url}",
    "audit.registered": "The server knows that this ballot was audited and will never accept it.",
    "audit.unregistered": "The server did not confirm the audit ({code}); this booth will never cast this ballot anyway.",
    "done.revote": "This is a re-vote: the new ballot replaces your earlier one.",
    "done.tracker": "Tracker:",
    "done.receipt": "Signed receipt",
    "done.download": "Download the receipt",
    "done.qr": "QR code of the signed receipt",
    "done.print": "Print",
    "done.box": "Find your ballot in the ballot box",
    "done.keep": "Keep the receipt: it proves that the server accepted your ballot.",
    "err.network": "The server cannot be reached. Check the connection and try again.",
    "err.auth": "Wrong login or secret.",
    "err.binding": "This credential does not belong to this login.",
    "err.phase": "The election does not accept ballots.",
    "err.server": "The server refused the ballot ({code}): {message}",
    "err.crypto": "Encryption failed ({code}): {message}",
    "err.election": "The election could not be loaded.",
  },
};

export const LANGUAGES = ["uk", "en"];
const KEY = "viche.lang";

let current = "uk";
try {
  const saved = globalThis.localStorage?.getItem(KEY);
  if (LANGUAGES.includes(saved)) current = saved;
} catch {
  // storage refused (private mode): Ukrainian
}

export function lang() {
  return current;
}

export function setLang(code) {
  if (!LANGUAGES.includes(code)) return;
  current = code;
  try {
    globalThis.localStorage?.setItem(KEY, code);
  } catch {
    // not kept
  }
  document.documentElement.lang = code;
}

export function t(key, params = {}) {
  const text = CATALOGUE[current][key] ?? CATALOGUE.uk[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** A count in words: the key's plural form for n (key.one, key.few, key.many, key.other). */
export function tn(key, n) {
  const form = new Intl.PluralRules(current).select(n);
  const table = CATALOGUE[current];
  const found = [form, "other", "many"].find((f) => `${key}.${f}` in table);
  return t(`${key}.${found}`, { n });
}

/** Fill every element with data-i18n="key" (textContent) and data-i18n-label (aria-label). */
export function translatePage(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]"))
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

/** A small element builder: h("p", {class: "x"}, "text", child). Text is never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Download text as a file (a blob URL, allowed by the pages' CSP). */
export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
