"""Write config/crd/bases/*.yaml from the models in api/ (`make generate`)."""

from __future__ import annotations

import sys
from pathlib import Path

from api.crds import rendered

BASES = Path(__file__).resolve().parents[1] / "config" / "crd" / "bases"


def main() -> int:
    BASES.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for stale in sorted(set(p.name for p in BASES.glob("*.yaml")) - files.keys()):
        (BASES / stale).unlink()
        print(f"removed {BASES / stale}")
    for name, text in files.items():
        path = BASES / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
