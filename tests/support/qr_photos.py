"""Photograph-like pictures of QR codes, made with PIL and numpy, for the booth's QR decoder
(tests/booth/test_qr_decode.py, tests/browser, bench/qr_decode): the code is printed on
white paper with a quiet zone, laid on a textured table, turned, seen in perspective,
lit from one side, blurred, noisy, saved as a JPEG as a phone does. A seed replays one.

Also the bridge to the decoder: `Decoder` runs tests/booth/js/qr_decode_lines.mjs (one Node
process, one JSON line a request) and `zbar` runs zbarimg on the same pixels."""

from __future__ import annotations

import base64
import io
import json
import math
import random
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

LINES = Path(__file__).resolve().parents[1] / "booth/js/qr_decode_lines.mjs"
Grey = NDArray[np.uint8]
CREDENTIAL_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Shot:
    """How one picture is taken."""

    width: int = 640
    height: int = 480
    module: float = 6.0  # pixels a module at the centre
    quiet: int = 4  # modules of white paper around the code
    angle: float = 0.0  # degrees
    tilt: float = 0.0  # 0..0.35: the far edge is this much shorter
    light: tuple[float, float] = (1.0, 1.0)  # gain at the dark and at the bright side
    light_angle: float = 0.0  # where the light comes from, degrees
    blur: float = 0.0  # Gaussian radius, pixels
    noise: float = 0.0  # standard deviation, grey levels
    jpeg: int = 0  # JPEG quality (0: none)
    seed: int = 0

    @staticmethod
    def random(seed: int, width: int = 640, height: int = 480, n: int = 25) -> Shot:
        """A shot drawn at random, the code within the frame."""
        r = random.Random(seed)
        fit = min(width, height) / ((n + 8) * 1.45)
        return Shot(
            width=width,
            height=height,
            module=r.uniform(min(2.5, fit), max(2.5, fit)),
            quiet=r.choice([1, 2, 4, 4]),
            angle=r.uniform(0, 360),
            tilt=r.uniform(0, 0.3),
            light=(r.uniform(0.25, 0.9), r.uniform(0.9, 1.2)),
            light_angle=r.uniform(0, 360),
            blur=r.choice([0.0, 0.6, 1.0, 1.5, 2.0]),
            noise=r.uniform(0, 16),
            jpeg=r.choice([0, 60, 75, 90]),
            seed=seed,
        )


def _perspective(
    out: Sequence[tuple[float, float]], src: Sequence[tuple[float, float]]
) -> tuple[float, ...]:
    """PIL's PERSPECTIVE coefficients: the output corners `out` show the input corners `src`."""
    a = []
    b = []
    for (x, y), (u, v) in zip(out, src, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    coeffs = np.linalg.solve(np.array(a, dtype=float), np.array(b, dtype=float))
    return tuple(float(c) for c in coeffs)


def printed(rows: Sequence[Sequence[int | bool]], quiet: int, scale: int = 8) -> Image.Image:
    """The code `rows` (1: dark) printed on white paper, `scale` pixels a module."""
    modules = np.array(rows, dtype=bool)
    paper = np.pad(~modules, quiet, constant_values=True)
    big = np.kron(paper, np.ones((scale, scale), dtype=bool))
    return Image.fromarray(np.where(big, 235, 30).astype(np.uint8))


def photo(rows: Sequence[Sequence[int | bool]], shot: Shot) -> Grey:
    """The grey picture (height x width) of the code `rows` (1: dark) taken as `shot` says."""
    return photograph(printed(rows, shot.quiet), shot, (len(rows) + 2 * shot.quiet) * shot.module)


def photograph(paper: Image.Image, shot: Shot, across: float) -> Grey:
    """The grey picture of the sheet `paper` lying on a table, `across` pixels wide at the
    centre of the frame, taken as `shot` says (its module and quiet are not used)."""
    rng = np.random.default_rng(shot.seed)
    pw, ph = paper.size
    hw = across / 2
    hh = hw * ph / pw
    a = math.radians(shot.angle)
    cx, cy = shot.width / 2, shot.height / 2
    square = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
    shrunk = [(x * (1 - shot.tilt if y < 0 else 1 + shot.tilt / 3), y) for x, y in square]
    corners = [
        (
            cx + hw * x * math.cos(a) - hh * y * math.sin(a),
            cy + hw * x * math.sin(a) + hh * y * math.cos(a),
        )
        for x, y in shrunk
    ]
    src = [(0.0, 0.0), (float(pw), 0.0), (float(pw), float(ph)), (0.0, float(ph))]
    coeffs = _perspective(corners, src)
    size = (shot.width, shot.height)
    grey = paper.convert("L")
    code = np.asarray(
        grey.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR),
        dtype=float,
    )
    mask = Image.new("L", (pw, ph), 255).transform(
        size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    alpha = np.asarray(mask, dtype=float) / 255
    yy, xx = np.mgrid[0 : shot.height, 0 : shot.width].astype(float)
    table = (
        120
        + 35 * np.sin(xx / 41 + yy / 67)
        + 25 * np.sin(yy / 13)
        + rng.normal(0, 10, size=xx.shape)
    )
    picture = alpha * code + (1 - alpha) * table
    la = math.radians(shot.light_angle)
    t = ((xx - cx) * math.cos(la) + (yy - cy) * math.sin(la)) / math.hypot(
        shot.width, shot.height
    ) + 0.5
    picture *= shot.light[0] + (shot.light[1] - shot.light[0]) * t
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    if shot.blur:
        image = image.filter(ImageFilter.GaussianBlur(shot.blur))
    noisy = np.asarray(image, dtype=float) + rng.normal(0, shot.noise or 1e-9, size=xx.shape)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if shot.jpeg:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=shot.jpeg)
        image = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return np.asarray(image, dtype=np.uint8)


def save_png(picture: Grey, path: Path) -> Path:
    Image.fromarray(picture).save(path)
    return path


def zbar(zbarimg: str, picture: Grey, path: Path) -> str | None:
    """zbarimg's text of the picture (written to `path` as PNG), or None."""
    save_png(picture, path)
    got = subprocess.run(
        [zbarimg, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", "-Sbinary", str(path)],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return got.stdout.decode("utf-8", "replace").removesuffix("\n") if got.returncode == 0 else None


class Decoder:
    """The booth's decoder (qrdecode.js) in one Node process."""

    def __init__(self, node: str) -> None:
        self._proc = subprocess.Popen(
            [node, str(LINES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def ask(self, request: dict[str, Any]) -> tuple[str | None, float]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the decoder stopped ({self._proc.poll()})")
        answer = json.loads(line)
        text = answer["text"]
        assert text is None or isinstance(text, str)
        return text, float(answer["ms"])

    def grid(self, rows: Sequence[Sequence[int | bool]]) -> str | None:
        return self.ask({"grid": [[int(m) for m in row] for row in rows]})[0]

    def drawn(
        self, rows: Sequence[Sequence[int | bool]], width: int, height: int, **options: Any
    ) -> str | None:
        """Decodes a picture that qr_render.mjs draws (options as there)."""
        grid = [[int(m) for m in row] for row in rows]
        return self.ask({"rows": grid, "width": width, "height": height, "options": options})[0]

    def picture(self, picture: Grey) -> tuple[str | None, float]:
        h, w = picture.shape
        grey = base64.b64encode(np.ascontiguousarray(picture).tobytes()).decode()
        return self.ask({"grey": grey, "width": w, "height": h})

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)
        if self._proc.stdout:
            self._proc.stdout.close()


def shot_dict(shot: Shot) -> dict[str, Any]:
    return asdict(shot)


def photo_set(
    count: int, seed: int = 0, width: int = 640, height: int = 480
) -> list[tuple[str, Shot, Grey]]:
    """`count` photograph-like pictures of codes made by segno (an encoder that is not ours):
    credentials, links, receipts in Ukrainian, long numbers; versions 1-10, every EC level."""
    import segno

    out = []
    for i in range(count):
        r = random.Random(seed * 100_003 + i)
        link = "".join(r.choice("abcdefgh0123456789") for _ in range(r.randint(10, 60)))
        payload = r.choice([
            "".join(r.choice(CREDENTIAL_ALPHABET) for _ in range(15)),
            "https://vote.example.org/booth/#" + link,
            "Віче ✓ квитанція " * r.randint(1, 6),
            str(r.randint(0, 10**40)),
        ])  # fmt: skip
        code = segno.make(payload, error=r.choice("lmqh"), boost_error=False, micro=False)
        rows = [list(row) for row in code.matrix]
        shot = Shot.random(seed * 100_003 + i, width=width, height=height, n=len(rows))
        out.append((payload, shot, photo(rows, shot)))
    return out
