#!/usr/bin/env python3
"""Benchmark of Helm index parsing: Helmward's parser against PyYAML's C loader and the helm
CLI, on a generated index.yaml shaped like Bitnami's (about 15 MB, 15,000 entries).

    .venv/bin/python hack/bench/index.py [--entries 15000] [--helm PATH]

Each parse runs in a fresh process so that its peak memory (max RSS) is its own. Not part of
`make test`."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def generate(path: Path, entries: int, per_chart: int = 60) -> None:
    """A deterministic index: `entries // per_chart` charts, each with `per_chart` versions,
    every entry carrying the fields Bitnami's entries carry (annotations with a block scalar,
    dependencies, maintainers, sources, a quoted timestamp)."""
    out = ["apiVersion: v1", "entries:"]
    charts = max(1, entries // per_chart)
    for c in range(charts):
        name = f"chart-{c:04d}"
        out.append(f"  {name}:")
        for v in range(per_chart):
            ver = f"{v // 20}.{(v // 4) % 5}.{v % 4}" + ("-rc.1" if v % 13 == 0 else "")
            digest = hashlib.sha256(f"{name}{ver}".encode()).hexdigest()
            out.append(
                f"""  - annotations:
      category: Infrastructure
      images: |
        - name: {name}
          image: docker.io/bitnami/{name}:{ver}-debian-12-r{v}
        - name: os-shell
          image: docker.io/bitnami/os-shell:12-debian-12-r{v}
      licenses: Apache-2.0
    apiVersion: v2
    appVersion: {ver}
    created: "2024-0{1 + v % 9}-1{v % 10}T10:2{v % 10}:33.{v:06d}Z"
    dependencies:
    - name: common
      repository: oci://registry-1.docker.io/bitnamicharts
      tags:
      - bitnami-common
      version: 2.x.x
    description: {name} is a chart that does many things for many people in a cluster.
    digest: {digest}
    home: https://bitnami.com
    icon: https://bitnami.com/assets/stacks/{name}/img/{name}-stack-220x234.png
    keywords:
    - {name}
    - database
    maintainers:
    - name: Broadcom, Inc. All Rights Reserved.
      url: https://github.com/bitnami/charts
    name: {name}
    sources:
    - https://github.com/bitnami/charts/tree/main/bitnami/{name}
    urls:
    - https://charts.example.com/bitnami/{name}-{ver}.tgz
    version: {ver}"""
            )
    out.append('generated: "2024-06-01T00:00:00Z"')
    path.write_text("\n".join(out) + "\n")


_CHILD = r"""
import time
START = time.perf_counter()
import sys
sys.path.insert(0, {repo!r})
data = open({path!r}, "rb").read()
which = {which!r}
t = time.perf_counter()
if which == "helmward":
    from internal.sources.helmindex import parse_index
    index = parse_index(data)
    n = len(index)
elif which == "pyyaml":
    import yaml
    doc = yaml.load(data, Loader=yaml.CSafeLoader)
    n = sum(len(v) for v in doc["entries"].values())
parse = time.perf_counter() - t
ready = time.perf_counter() - START
cold = warm = 0.0
if which == "helmward":
    names = list(index.names())
    queries = ["*", ">=1.0.0 <2.0.0", "~2.1", "1.2.3", "^0.1", "2.0.x"]
    def sweep():
        count = 0
        t = time.perf_counter()
        for name in names:
            for q in queries:
                try:
                    index.get(name, q)
                except LookupError:
                    pass
                count += 1
        return count / (time.perf_counter() - t)
    cold = sweep()  # first selection of each (chart, constraint)
    warm = min(sweep() for _ in range(5))  # the same selections again, as reconciles repeat them
print(n, parse, ready, cold, warm)
"""


def run_child(argv: list[str]) -> tuple[str, float, float]:
    """Run a process; (stdout, wall seconds, max RSS MiB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {err.decode()[-2000:]}")
    return out.decode(), wall, usage.ru_maxrss / 1024


def python_parse(path: Path, which: str) -> tuple[int, float, float, float, float, float]:
    """(entries, parse s, process-until-parsed s, cold lookups/s, warm lookups/s, RSS MiB)"""
    code = _CHILD.format(repo=str(REPO), path=str(path), which=which)
    out, _, rss = run_child([sys.executable, "-c", code])
    n, parse, ready, cold, warm = out.split()
    return int(n), float(parse), float(ready), float(cold), float(warm), rss


def helm_search(helm: str, path: Path, tmp: Path) -> tuple[float, float]:
    """`helm search repo` of one chart: helm loads the whole cached index to answer."""
    cache = tmp / "cache"
    cache.mkdir(exist_ok=True)
    (cache / "bench-index.yaml").write_bytes(path.read_bytes())
    config = tmp / "repositories.yaml"
    config.write_text(
        "apiVersion: v1\nrepositories:\n- name: bench\n  url: https://charts.example.com/bitnami\n"
    )
    argv = [
        helm,
        "search",
        "repo",
        "bench/chart-0001",
        "--versions",
        "--repository-config",
        str(config),
        "--repository-cache",
        str(cache),
    ]
    env_home = {"HOME": str(tmp), "HELM_CONFIG_HOME": str(tmp), "HELM_CACHE_HOME": str(tmp)}
    os.environ.update(env_home)
    best = (float("inf"), 0.0)
    for _ in range(3):
        _, wall, rss = run_child(argv)
        best = min(best, (wall, rss))
    return best


def find_helm() -> str | None:
    try:
        out = subprocess.run(
            ["bash", str(REPO / "hack" / "cluster.sh"), "env"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        if line.startswith("export PATH="):
            candidate = Path(line.split("=", 1)[1].split(":", 1)[0].strip('"')) / "helm"
            if candidate.exists():
                return str(candidate)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=15000)
    ap.add_argument("--helm", default=None, help="helm binary (default: the cluster's)")
    ap.add_argument("--skip-pyyaml", action="store_true", help="PyYAML takes several seconds")
    args = ap.parse_args()
    helm = args.helm or find_helm()
    with tempfile.TemporaryDirectory(prefix="helmward-bench-") as d:
        tmp = Path(d)
        path = tmp / "index.yaml"
        generate(path, args.entries)
        size = path.stat().st_size / 1e6
        print(f"index: {size:.1f} MB, {args.entries} entries")
        ours = [python_parse(path, "helmward") for _ in range(3)]
        n, parse, wall, cold, warm, rss = min(ours, key=lambda r: r[1])
        print(
            f"helmward (rapidyaml+orjson): parse {parse:.2f} s, process start to parsed "
            f"{wall:.2f} s, peak RSS {rss:.0f} MiB, {n} entries"
        )
        print(f"  lookups: {cold:,.0f}/s first time, {warm:,.0f}/s repeated")
        if not args.skip_pyyaml:
            _, pparse, _, _, _, prss = python_parse(path, "pyyaml")
            print(f"pyyaml CSafeLoader:          parse {pparse:.2f} s, peak RSS {prss:.0f} MiB")
            print(f"  ratio pyyaml/helmward: parse {pparse / parse:.1f}x, memory {prss / rss:.1f}x")
        if helm:
            hwall, hrss = helm_search(helm, path, tmp)
            print(f"helm search repo ({helm}): process {hwall:.2f} s, peak RSS {hrss:.0f} MiB")
            print(
                f"  ratio helm/helmward: time {hwall / wall:.2f}x (whole process), "
                f"{hwall / parse:.2f}x (parse only), memory {hrss / rss:.2f}x"
            )
        else:
            print("helm CLI not found: pass --helm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
