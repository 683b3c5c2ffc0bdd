"""Documents stage on one document with 32,000 overlapping codings: read + every analysis.

    .venv/bin/python bench/bench_documents.py [--n 32000] [--repeat 3] [--max-span 600]

Target (issue 14): reading the .qdpx and writing every documents output <= 2 s for 32,000
codings in one document, memory linear in the input. Each size runs in a fresh child process
so its peak RSS is its own; the project is written by this script (seeded, text with emoji
and CRLF, 12 codes, two coders; spans of 20-600 characters, a sentence to a paragraph, on a
300,000-character text, so every character lies under some 30 codings on average).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from itertools import accumulate
from pathlib import Path
from xml.etree import ElementTree as ET

NS = "urn:QDA-XML:project:1.0"
CODES = {"Problem constructions": ["Hidden risk", "Late help", "Cost", "Chaos", "Need"],
         "Solution rationales": ["Superior knowledge", "Early intervention", "Efficiency",
                                 "Prediction", "Holistic view", "Safeguarding", "Trust"]}


def gid(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{key}"))


def sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)


def write_project(path: Path, n: int, max_span: int = 600, seed: int = 14) -> None:
    rng = random.Random(seed)
    words = ["family", "data", "risk", "service", "council", "support", "record", "\U0001F642"]
    text = "\r\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(4000))
    root = ET.Element(f"{{{NS}}}Project", {"name": "bench", "origin": "NVivo 14 (Windows)"})
    users = sub(root, "Users")
    for name in ("Coder A", "Coder B"):
        sub(users, "User", guid=gid(name), name=name)
    codes = sub(sub(root, "CodeBook"), "Codes")
    leaves = []
    for group, children in CODES.items():
        top = sub(codes, "Code", guid=gid(group), name=group, isCodable="false")
        for child in children:
            sub(top, "Code", guid=gid(f"{group}/{child}"), name=child, isCodable="true")
            leaves.append(gid(f"{group}/{child}"))
    src = sub(sub(root, "Sources"), "TextSource", guid=gid("doc"), name="Long document",
              plainTextPath=f"internal://{gid('doc')}.txt")
    # UTF-16 offset of every character boundary (NVivo's unit): a position never splits an emoji.
    utf16 = list(accumulate((2 if ord(c) > 0xFFFF else 1 for c in text), initial=0))
    for i in range(n):
        first = rng.randrange(0, len(text) - max_span)
        start, end = utf16[first], utf16[first + rng.randrange(20, max_span)]
        sel = sub(src, "PlainTextSelection", guid=gid(f"sel{i}"), startPosition=str(start),
                  endPosition=str(end), creatingUser=gid(rng.choice(["Coder A", "Coder B"])))
        coding = sub(sel, "Coding", guid=gid(f"coding{i}"))
        sub(coding, "CodeRef", targetGUID=rng.choice(leaves))
    ET.register_namespace("", NS)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", ET.tostring(root, encoding="utf-8", xml_declaration=True))
        zf.writestr(f"Sources/{gid('doc')}.txt", b"\xef\xbb\xbf" + text.encode("utf-8"))


def write_limits_project(path: Path, n_texts: int = 4, mb: int = 31, n: int = 2000) -> None:
    """Texts at the reader's size limits (4 x 31 MB < 128 MB total, each < 32 MB), emoji and
    CRLF in every line, ``n`` codings per text."""
    rng = random.Random(7)
    words = ["family", "data", "risk", "service", "council", "support", "record", "\U0001F642",
             "the", "of", "and", "records", "linked", "children", "early", "help", "schools"]
    lines, size = [], 0
    while size < mb * 2**20 - 200:
        line = " ".join(rng.choices(words, k=rng.randrange(6, 16))) + "\r\n"
        lines.append(line)
        size += len(line.encode("utf-8"))
    text = "".join(lines).encode("utf-8")
    starts = list(accumulate((len(x.encode("utf-16-le")) // 2 for x in lines), initial=0))
    root = ET.Element(f"{{{NS}}}Project", {"name": "limits", "origin": "NVivo 14 (Windows)"})
    sub(sub(root, "Users"), "User", guid=gid("Coder A"), name="Coder A")
    codes = sub(sub(root, "CodeBook"), "Codes")
    for group, children in CODES.items():
        top = sub(codes, "Code", guid=gid(group), name=group, isCodable="false")
        for c in children:
            sub(top, "Code", guid=gid(f"{group}/{c}"), name=c, isCodable="true")
    sources = sub(root, "Sources")
    for t in range(n_texts):
        src = sub(sources, "TextSource", guid=gid(f"doc{t}"), name=f"Text {t}",
                  plainTextPath=f"internal://{gid(f'doc{t}')}.txt")
        for i in range(n):
            first = rng.randrange(0, len(lines) - 3)  # whole lines: valid in UTF-16
            sel = sub(src, "PlainTextSelection", guid=gid(f"s{t}.{i}"),
                      startPosition=str(starts[first]), endPosition=str(starts[first + 2]),
                      creatingUser=gid("Coder A"))
            sub(sub(sel, "Coding", guid=gid(f"c{t}.{i}")), "CodeRef",
                targetGUID=gid("Problem constructions/Hidden risk"))
    ET.register_namespace("", NS)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", ET.tostring(root, encoding="utf-8", xml_declaration=True))
        for t in range(n_texts):
            zf.writestr(f"Sources/{gid(f'doc{t}')}.txt", text)


def child(path: Path, out: Path) -> None:
    """One timed read + analysis, in this process; prints JSON."""
    from parentlink.documents import write_outputs
    from parentlink.qdpx import read_codes

    c0 = time.process_time()
    t0 = time.perf_counter()
    project = read_codes(path)
    t1 = time.perf_counter()
    names = ("code_frequencies", "cooccurrence", "chains", "reliability", "quotes", "segments")
    write_outputs(project, {k: out / f"{k}.{'json' if k == 'quotes' else 'csv'}" for k in names},
                  synthetic=True)
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"read_s": t1 - t0, "analyse_s": t2 - t1, "total_s": t2 - t0, "cpu_s": cpu,
                      "segments": len(project.segments), "peak_rss_mb": peak_mb,
                      "unit": sorted(set(project.reading.units.values()))}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-span", type=int, default=600, help="longest coded span, characters")
    ap.add_argument("--at-limits", action="store_true",
                    help="instead: texts at the default size limits, to compare peak RSS with "
                    "the 1,000 MB the rule declares")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    if args.at_limits:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "limits.qdpx"
            write_limits_project(path)
            out = Path(tmp) / "out"
            out.mkdir()
            res = subprocess.run([sys.executable, __file__, "--child", str(path), str(out)],
                                 capture_output=True, text=True, check=True)
            got = json.loads(res.stdout)
            print(f"4 texts x 31 MB (124 MB read), {got['segments']} codings: "
                  f"{got['total_s']:.1f} s, peak RSS {got['peak_rss_mb']:.0f} MB (rule declares "
                  "1000 MB)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.n // 4, args.n // 2, args.n):
            path = Path(tmp) / f"bench_{n}.qdpx"
            write_project(path, n, args.max_span)
            runs = []
            for r in range(args.repeat):
                out = Path(tmp) / f"out_{n}_{r}"
                out.mkdir()
                res = subprocess.run([sys.executable, __file__, "--child", str(path), str(out)],
                                     capture_output=True, text=True, check=True)
                runs.append(json.loads(res.stdout))
            best = min(runs, key=lambda x: x["total_s"])
            size_mb = path.stat().st_size / 2**20
            print(f"{n:>6} codings ({size_mb:.1f} MB .qdpx, positions {best['unit'][0]}): "
                  f"read {best['read_s']:.2f} s + analyses {best['analyse_s']:.2f} s = "
                  f"{best['total_s']:.2f} s wall, {best['cpu_s']:.2f} s CPU (best of "
                  f"{args.repeat}); peak RSS "
                  f"{best['peak_rss_mb']:.0f} MB")
    print("target: <= 2 s at 32,000 codings; peak RSS growing linearly with the codings "
          f"(load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
