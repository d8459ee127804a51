"""python -m tools.wiring [--check]: regenerate (or check) what hardware/ draws from boards/.

Writes hardware/wiring_<board>.png, hardware/wokwi/<board>/diagram.json and the pin
tables in hardware/README.md. With --check, writes nothing and exits 1 if any is stale.
"""

import argparse
import sys

from tools import wiring


def stale(name):
    """The generated files of one board that do not match its board file now."""
    out = []
    png = wiring.HARDWARE / ("wiring_%s.png" % name)
    if png_digest(png) != wiring.digest(name):
        out.append(png)
    diagram = wiring.HARDWARE / "wokwi" / name / "diagram.json"
    if not diagram.exists() or diagram.read_text() != wiring.wokwi_text(name):
        out.append(diagram)
    return out


def png_digest(path):
    """The board digest stamped into a wiring PNG, or None."""
    if not path.exists():
        return None
    from PIL import Image

    with Image.open(path) as image:
        return image.text.get("Basalt-Board-Digest")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.wiring", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    readme = wiring.HARDWARE / "README.md"
    text = readme.read_text()
    if args.check:
        problems = [p for name in wiring.BOARDS for p in stale(name)]
        if wiring.with_pin_tables(text) != text:
            problems.append(readme)
        for path in problems:
            print("stale: %s (run python -m tools.wiring)" % path.relative_to(wiring.ROOT))
        return 1 if problems else 0
    from tools.wiring.draw import draw

    for name in wiring.BOARDS:
        png = wiring.HARDWARE / ("wiring_%s.png" % name)
        draw(name, png)
        diagram = wiring.HARDWARE / "wokwi" / name / "diagram.json"
        diagram.parent.mkdir(parents=True, exist_ok=True)
        diagram.write_text(wiring.wokwi_text(name))
        print("wrote %s\nwrote %s" % (png.relative_to(wiring.ROOT),
                                      diagram.relative_to(wiring.ROOT)))
    readme.write_text(wiring.with_pin_tables(text))
    print("updated the pin tables in hardware/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
