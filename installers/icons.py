"""Render Softclock's icon set from softclock/resources/icons/softclock.svg.

    python installers/icons.py            # rewrite the committed PNGs, .ico and .icns
    python installers/icons.py --check    # exit 1 if one is missing or has the wrong size

Writes, beside the SVG, ``softclock-<N>.png`` for N in SIZES (the hicolor sizes
the Debian package and the desktop installer use), ``softclock.ico`` (16-256,
for the Windows installer and executable) and ``softclock.icns`` (16-512, for
the macOS app bundle). The ICO and ICNS containers hold PNG images, which
Windows Vista+ and macOS 10.7+ read. Needs PySide6 (QtSvg is in
PySide6-Essentials); runs without a display.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "softclock" / "resources" / "icons"
SVG = ICONS / "softclock.svg"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size (retina variants share pixels)
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"icp6", 64),
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),  # 128@2x
    (b"ic09", 512),
    (b"ic14", 512),  # 256@2x
)


def png_name(size: int) -> str:
    return f"softclock-{size}.png"


def render_png(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO file of PNG images (one directory entry per size)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for s in sizes:
        blob = pngs[s]
        dim = 0 if s >= 256 else s  # 0 means 256
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[s])) + pngs[s] for kind, s in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def check() -> list[str]:
    problems = []
    for s in SIZES:
        path = ICONS / png_name(s)
        if not path.exists():
            problems.append(f"{path} is missing")
        elif png_size(path.read_bytes()) != (s, s):
            problems.append(f"{path} is {png_size(path.read_bytes())}, not {s}x{s}")
    for name in ("softclock.ico", "softclock.icns"):
        if not (ICONS / name).exists():
            problems.append(f"{ICONS / name} is missing")
    return problems


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (keeps Qt up)
    pngs = {s: render_png(s) for s in sorted(set(SIZES) | {512})}
    for s in SIZES:
        (ICONS / png_name(s)).write_bytes(pngs[s])
    (ICONS / "softclock.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (ICONS / "softclock.icns").write_bytes(icns(pngs))
    print(f"wrote {len(SIZES)} PNGs, softclock.ico and softclock.icns in {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
