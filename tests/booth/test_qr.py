"""The booth's QR encoder (static/common/qr.js) read back by zbar: every size from version 1
to 40, UTF-8 text, a receipt; a code with its finder pattern erased is not read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

JS = Path(__file__).parent / "js"
LENGTHS = [1, 17, 30, 60, 100, 150, 200, 300, 420, 500, 650, 800, 1200, 2000, 2953]


def _texts() -> list[str]:
    alphabet = 'abcXYZ0123456789{}":,/+=-'
    texts = ["".join(alphabet[(i * 7) % len(alphabet)] for i in range(n)) for n in LENGTHS]
    texts.append("Віче — квитанція ✓")
    return texts


def _matrices(node: str, texts: list[str]) -> list[list[list[int]]]:
    out = subprocess.run(
        [node, str(JS / "qr_matrix.mjs")],
        input=json.dumps(texts).encode(), capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    found: list[list[list[int]]] = json.loads(out.stdout)
    return found


def _decode(zbarimg: str, rows: list[list[int]], path: Path) -> str | None:
    """Write the code as a PGM image (4-module quiet zone, 4 pixels a module); zbar's text."""
    quiet, scale = 4, 4
    n = len(rows) + 2 * quiet
    pixels = bytearray()
    for y in range(n * scale):
        my = y // scale - quiet
        for x in range(n * scale):
            mx = x // scale - quiet
            dark = 0 <= my < len(rows) and 0 <= mx < len(rows) and rows[my][mx] == 1
            pixels.append(0 if dark else 255)
    path.write_bytes(f"P5 {n * scale} {n * scale} 255\n".encode() + bytes(pixels))
    got = subprocess.run(
        [zbarimg, "-q", "--raw", "-Sbinary", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return got.stdout.decode().removesuffix("\n") if got.returncode == 0 else None


def test_qr_codes_of_every_size_are_read_back(node: str, zbarimg: str, tmp_path: Path) -> None:
    texts = _texts()
    matrices = _matrices(node, texts)
    sizes = [len(rows) for rows in matrices]
    assert sizes[0] == 21 and sizes[-2] == 177  # versions 1 and 40
    for i, (text, rows) in enumerate(zip(texts, matrices, strict=True)):
        assert _decode(zbarimg, rows, tmp_path / f"{i}.pgm") == text, len(text)


def test_qr_code_without_its_finder_is_not_read(node: str, zbarimg: str, tmp_path: Path) -> None:
    [rows] = _matrices(node, ["a receipt"])
    assert _decode(zbarimg, rows, tmp_path / "ok.pgm") == "a receipt"
    for y in range(7):
        for x in range(7):
            rows[y][x] = 0
            rows[y][len(rows) - 1 - x] = 0
    assert _decode(zbarimg, rows, tmp_path / "erased.pgm") is None
