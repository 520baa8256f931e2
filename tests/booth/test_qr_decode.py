"""The booth's QR decoder (static/booth/qrdecode.js) on codes that an independent encoder
makes (segno): every version, error correction level and mask; numeric, alphanumeric, byte,
kanji and ECI segments; payloads drawn by Hypothesis; photograph-like pictures (PIL) read by
zbarimg and by ours; the photo of a credential letter's code.

segno is in the ``test`` extra for this: an encoder other than ours (common/qr.js makes only
level L, byte mode), so that the decoder is not tested only against our own reading of the
standard. Node runs the decoder (tests/booth/js/qr_decode_lines.mjs, one process per module).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from support.qr_photos import Decoder, Shot, photo_set, photograph, printed, zbar

JS = Path(__file__).parent / "js"
LEVELS = "LMQH"


@pytest.fixture(scope="module")
def decoder(node: str) -> Iterator[Decoder]:
    d = Decoder(node)
    yield d
    d.close()


def _rows(code: segno.QRCode) -> list[list[int]]:
    return [list(row) for row in code.matrix]


def _payload(version: int, level: str, mode: str) -> str:
    """A payload of `mode` that fills half to all of `version` at `level` (as segno says)."""
    alphabet = {
        "numeric": "0123456789",
        "alphanumeric": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:",
        "byte": 'abcdefghijklmnopqrstuvwxyz{}[]",:0123456789',
    }[mode]

    def fits(n: int) -> bool:
        text = "".join(alphabet[(i * 7) % len(alphabet)] for i in range(n))
        try:
            segno.make(
                text,
                version=version,
                error=level,
                mode=mode,
                mask=0,
                boost_error=False,
                micro=False,
            )
        except segno.DataOverflowError:
            return False
        return True

    n = 4
    while fits(n * 2):  # between half and all of the capacity
        n *= 2
    if fits(n * 3 // 2):
        n = n * 3 // 2
    return "".join(alphabet[(i * 7 + version) % len(alphabet)] for i in range(n))


def test_every_version_level_and_mask_of_segno(decoder: Decoder) -> None:
    seen: set[tuple[int, str, int]] = set()
    for version in range(1, 41):
        for li, level in enumerate(LEVELS):
            mode = ("numeric", "alphanumeric", "byte")[(version + li) % 3]
            text = _payload(version, level, mode)
            # every mask for versions 1 and 7; one (turning) for the others
            masks = range(8) if version in (1, 7) else [(version + li) % 8]
            for mask in masks:
                code = segno.make(text, version=version, error=level, mode=mode, mask=mask,
                                  boost_error=False, micro=False)  # fmt: skip
                assert (code.version, code.error, code.mask) == (version, level, mask)
                assert decoder.grid(_rows(code)) == text, (version, level, mask, mode)
                seen.add((version, level, mask))
    assert len({v for v, _, _ in seen}) == 40 and len({m for _, _, m in seen}) == 8


def test_segno_pictures_of_many_versions_turned_and_tilted(decoder: Decoder) -> None:
    failures = []
    for i, version in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 20]):
        level = LEVELS[i % 4]
        text = _payload(version, level, "byte")
        rows = _rows(segno.make(text, version=version, error=level, boost_error=False, micro=False))
        module = max(3, int(700 / (len(rows) + 8) / 1.45))
        for angle in (0, 37, 90, 145, 200, 290):
            opts = {"module": module, "angle": angle, "tilt": 0.08, "noise": 12, "blur": 1,
                    "light": [0.5, 1.05], "seed": angle + version}  # fmt: skip
            if decoder.drawn(rows, 900, 720, **opts) != text:
                failures.append((version, level, opts))
    assert failures == []


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("0123456789" * 5, {"mode": "numeric"}),
        ("VICHE 2026: $%*+-./", {"mode": "alphanumeric"}),
        ("café au lait", {}),  # ISO-8859-1 bytes without ECI
        ("Віче — квитанція ✓", {"eci": True, "encoding": "utf-8"}),  # ECI 26
        ("Віче — квитанція ✓", {"encoding": "utf-8"}),  # UTF-8 without ECI
        ("café", {"eci": True, "encoding": "iso-8859-1"}),  # ECI 3
        ("Київ", {"eci": True, "encoding": "cp1251"}),  # ECI 22
        ("点茗漢字", {"mode": "kanji"}),
    ],
)
def test_segments_and_character_sets(
    decoder: Decoder, text: str, options: dict[str, object]
) -> None:
    code = segno.make(text, micro=False, **options)  # type: ignore[arg-type]
    assert decoder.grid(_rows(code)) == text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300),
    level=st.sampled_from(LEVELS),
    angle=st.floats(0, 360),
    mirror=st.booleans(),
)
def test_any_payload_is_read_back(
    decoder: Decoder, text: str, level: str, angle: float, mirror: bool
) -> None:
    # UTF-8 with its ECI: a Latin-1 byte string may also be valid UTF-8, so without ECI a
    # reader has to guess (ours: UTF-8 when valid, else Latin-1; zbar guesses too)
    code = segno.make(text, error=level, boost_error=False, micro=False, eci=True, encoding="utf-8")
    if code.mode == "kanji":
        # segno puts UTF-8 bytes that happen to pair as Shift JIS (E0 A5 81 40 for "ु@") in
        # kanji mode, which readers take as Shift JIS text (zbar and ours: "爭\u3000")
        code = segno.make(text, error=level, boost_error=False, micro=False, eci=True,
                          encoding="utf-8", mode="byte")  # fmt: skip
    rows = _rows(code)
    assert decoder.grid(rows) == text
    module = max(2, int(700 / (len(rows) + 8) / 1.45))
    assert decoder.drawn(rows, 800, 720, module=module, angle=angle, mirror=mirror, noise=8) == text


def test_damage_within_the_error_correction(decoder: Decoder) -> None:
    """Level H of version 5: 4 blocks of 9 data + 24 ecc codewords, 12 errors each; a stain
    of 6x6 modules over the data area is corrected, noise over the whole code too."""
    text = "2cJ-s7d-Gpm-Vok-HxE https://vote.example.org"
    rows = _rows(segno.make(text, version=5, error="H", boost_error=False, micro=False))
    stained = [row[:] for row in rows]
    for y in range(14, 20):
        for x in range(14, 20):
            stained[y][x] ^= 1
    assert decoder.grid(stained) == text
    assert decoder.drawn(stained, 640, 480, module=8, angle=20, noise=10) == text
    far = [row[:] for row in rows]
    for y in range(9, 28):
        for x in range(9, 28):
            far[y][x] ^= 1  # 361 modules: beyond any correction
    assert decoder.grid(far) is None


def test_photographs_read_by_zbar_are_read_by_ours(
    decoder: Decoder, zbarimg: str, tmp_path: Path
) -> None:
    """40 photograph-like pictures (PIL: turned, tilted up to 0.3, blurred, noisy, lit from
    one side, JPEG): ours reads at least what zbar reads, and every picture zbar reads but
    one at most. bench/qr_decode prints the rates on a larger set."""
    both = ours_only = zbar_only = 0
    missed = []
    for i, (text, shot, picture) in enumerate(photo_set(40, seed=1)):
        z = zbar(zbarimg, picture, tmp_path / f"{i}.png") == text
        o = decoder.picture(picture)[0] == text
        both += z and o
        ours_only += o and not z
        zbar_only += z and not o
        if z and not o:
            missed.append(shot)
    print(f"both {both}, ours only {ours_only}, zbar only {zbar_only}, of 40")
    assert both + ours_only >= both + zbar_only
    assert zbar_only <= 1, missed
    assert both + ours_only >= 24  # 60 %: the set has hard pictures on purpose


def _letter_sheet(node: str, credential: str) -> Image.Image:
    """A credential letter as printed: lines of text (grey bars), the credential's code (the
    booth encoder's, as `viche event letters` draws it) in the lower half."""
    out = subprocess.run(
        [node, str(JS / "qr_matrix.mjs")], input=json.dumps([credential]).encode(),
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    [rows] = json.loads(out.stdout)
    code = printed(rows, quiet=2, scale=12)
    sheet = Image.new("L", (840, 1188), 250)  # A4 at 4 pixels a millimetre
    draw = ImageDraw.Draw(sheet)
    for i, y in enumerate(range(90, 560, 34)):
        draw.rectangle((80, y, 760 - (i * 53) % 300, y + 12), fill=70)
    sheet.paste(code, (240, 620))
    return sheet


def test_a_photo_of_a_credential_letter(decoder: Decoder, node: str) -> None:
    credential = "2cJ-s7d-Gpm-Vok-HxE"
    sheet = _letter_sheet(node, credential)
    read = []
    for seed, angle, tilt in [(1, 8.0, 0.1), (2, 172.0, 0.2), (3, 275.0, 0.15), (4, 33.0, 0.25)]:
        shot = Shot(width=1280, height=720, angle=angle, tilt=tilt, light=(0.35, 1.1),
                    light_angle=seed * 70.0, blur=1.0, noise=8, jpeg=80, seed=seed)  # fmt: skip
        picture = photograph(sheet, shot, across=560)
        read.append(decoder.picture(picture)[0])
    assert read == [credential] * 4
