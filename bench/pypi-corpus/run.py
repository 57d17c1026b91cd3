#!/usr/bin/env python3
"""The PyPI fidelity benchmark: test each release of corpus.toml with
`ponyswarm pypi test NAME==VERSION --python 3.11` and compare the verdict with the one
its upstream CI gives. Prints one line per release, the share that match, and per
mismatch the verdict and a short reason from the report.

Only the standard library (Python 3.11+, for tomllib). Not part of CI: it needs Docker,
PyPI and about one to two minutes per release.

    bench/pypi-corpus/run.py                       # every release, target/release/ponyswarm
    bench/pypi-corpus/run.py attrs click           # only these names
    PONYSWARM=target/debug/ponyswarm bench/pypi-corpus/run.py --timeout 600

Results (one JSON line per release) are appended to --results, so a long run can be
summarized again with --summarize without re-running anything.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYTHON = "3.11"


def load_corpus(path):
    with open(path, "rb") as f:
        return tomllib.load(f)["release"]


def install_verdict(install):
    """The verdict of one (Python, file) install, from the report.

    A report that names its verdict (the verdict kinds of issue #15) is taken at its
    word; an older one is mapped from the test verdict and the job's status."""
    judged = install.get("judged")
    if isinstance(judged, dict) and isinstance(judged.get("judgement"), str):
        return judged["judgement"]
    for holder in (install, install.get("outcome", {})):
        if isinstance(holder.get("verdict"), str):
            return holder["verdict"]
        if isinstance(holder.get("verdict"), dict) and "kind" in holder["verdict"]:
            return holder["verdict"]["kind"]
    tests = install.get("tests")
    if tests in ("passed", "failed", "no-tests"):
        return tests
    status = install.get("outcome", {}).get("status")
    if status == "install-failed":
        return "install-failed"
    return "error"


def reason(install, verdict):
    """A short why for a verdict: the failures, the detail, or the log's last lines."""
    outcome = install.get("outcome", {})
    parts = []
    if outcome.get("detail"):
        parts.append(outcome["detail"])
    failures = outcome.get("failures") or []
    for failure in failures[:3]:
        name = failure.get("name") or failure.get("test") or "?"
        message = (failure.get("message") or "").strip().splitlines()
        parts.append(f"{name}: {message[0][:160] if message else ''}")
    if len(failures) > 3:
        parts.append(f"… and {len(failures) - 3} more failures")
    if not failures:
        log = [line for line in (outcome.get("log") or "").splitlines() if line.strip()]
        interesting = [
            line
            for line in log
            if any(
                k in line
                for k in ("Error", "error:", "ERROR", "No module", "FAILED", "not found")
            )
        ]
        tail = (interesting or log)[-3:]
        parts.extend(line.strip()[:200] for line in tail)
    return " | ".join(parts) if parts else verdict


def judge(report):
    """(release verdict, [(filename, verdict, reason)]) for Python 3.11."""
    rows = []
    for install in report.get("installs", []):
        if install.get("python") != PYTHON:
            continue
        verdict = install_verdict(install)
        rows.append((install.get("filename", "?"), verdict, reason(install, verdict)))
    if not rows:
        suite = report.get("tests", {})
        if suite.get("found") is False:
            return "no-tests", [("-", "no-tests", suite.get("reason", ""))]
        return "error", [("-", "error", "no install on Python 3.11 in the report")]
    verdicts = {v for _, v, _ in rows}
    # A release is judged per (Python, file); it matches only when every file does,
    # so the release verdict is the common one, or the files' verdicts joined.
    verdict = verdicts.pop() if len(verdicts) == 1 else "/".join(sorted({v for _, v, _ in rows}))
    return verdict, rows


def short_reason(rows):
    """The reasons of the files that did not pass, each once: `wheel+sdist: why`."""
    by_reason = {}
    for filename, verdict, why in rows:
        if verdict == "passed":
            continue
        kind = "sdist" if filename.endswith((".tar.gz", ".zip")) else "wheel"
        by_reason.setdefault(why, []).append(kind)
    return "; ".join(f"{'+'.join(kinds)}: {why}" for why, kinds in by_reason.items())[:500]


def run_one(binary, entry, work, timeout, extra):
    spec = f"{entry['name']}=={entry['version']}"
    reports = work / "reports"
    cmd = [
        str(binary),
        "pypi",
        "test",
        spec,
        "--python",
        PYTHON,
        "--report-dir",
        str(reports),
        "--database",
        f"sqlite://{work / 'results.db'}",
        "--timeout",
        f"{max(60, timeout - 60)}s",
        *extra,
    ]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        took = time.monotonic() - started
        return {"verdict": "error", "files": [], "reason": f"timed out after {took:.0f}s", "seconds": took}
    took = time.monotonic() - started
    found = sorted(
        (p for p in reports.glob("*/release.json") if p.stat().st_mtime >= time.time() - took - 5),
        key=lambda p: p.stat().st_mtime,
    )
    wanted = [p for p in found if p.parent.name.lower().endswith("-" + entry["version"].lower())]
    if not (wanted or found):
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return {"verdict": "error", "files": [], "reason": f"no report: {last[0][:300]}", "seconds": took}
    report = json.loads((wanted or found)[-1].read_text())
    verdict, rows = judge(report)
    return {
        "verdict": verdict,
        "files": [{"file": f, "verdict": v, "reason": r} for f, v, r in rows],
        "reason": short_reason(rows),
        "seconds": took,
    }


def summarize(corpus, results):
    by_key = {(r["name"].lower(), r["version"]): r for r in results}
    matched = ran = 0
    mismatches = []
    for entry in corpus:
        result = by_key.get((entry["name"].lower(), entry["version"]))
        if result is None:
            continue
        ran += 1
        ok = result["verdict"] == entry["expected"]
        matched += ok
        mark = "ok  " if ok else "MISS"
        print(
            f"{mark} {entry['name']}=={entry['version']}: expected {entry['expected']},"
            f" got {result['verdict']} ({result['seconds']:.0f}s)"
        )
        if not ok:
            mismatches.append((entry, result))
    print()
    if ran:
        print(f"matching verdicts on Python {PYTHON}: {matched}/{ran} = {100 * matched / ran:.0f}%"
              f" ({len(corpus) - ran} of {len(corpus)} not run)")
    for entry, result in mismatches:
        print(f"- {entry['name']}=={entry['version']}: {result['verdict']} (expected {entry['expected']}): {result['reason'] or '-'}")
    return matched, ran


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="only these releases (by name)")
    parser.add_argument("--corpus", default=HERE / "corpus.toml", type=pathlib.Path)
    parser.add_argument("--binary", default=os.environ.get("PONYSWARM", ROOT / "target/release/ponyswarm"))
    parser.add_argument("--timeout", type=int, default=900, help="seconds per release (default 900)")
    parser.add_argument("--results", type=pathlib.Path, default=None,
                        help="append one JSON line per release here (default: a temporary file)")
    parser.add_argument("--summarize", action="store_true", help="only summarize --results")
    parser.add_argument("--keep", action="store_true", help="keep the reports directory")
    args, extra = parser.parse_known_args()

    corpus = load_corpus(args.corpus)
    if args.names:
        wanted = {n.lower() for n in args.names}
        corpus = [e for e in corpus if e["name"].lower() in wanted]
    if args.summarize:
        if not args.results:
            sys.exit("--summarize needs --results FILE")
        results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
        summarize(corpus, results)
        return
    binary = pathlib.Path(args.binary)
    if not binary.is_absolute():
        binary = ROOT / binary
    if not binary.exists():
        sys.exit(f"{binary} does not exist: `cargo build --release` first, or set PONYSWARM")
    work = pathlib.Path(tempfile.mkdtemp(prefix="pypi-corpus-"))
    results_path = args.results or work / "results.jsonl"
    print(f"reports and results in {work}", flush=True)
    results = []
    for entry in corpus:
        result = run_one(binary, entry, work, args.timeout, extra)
        result.update(name=entry["name"], version=entry["version"], expected=entry["expected"])
        results.append(result)
        with open(results_path, "a") as f:
            f.write(json.dumps(result) + "\n")
        mark = "ok  " if result["verdict"] == entry["expected"] else "MISS"
        print(f"{mark} {entry['name']}=={entry['version']}: {result['verdict']}"
              f" (expected {entry['expected']}, {result['seconds']:.0f}s)", flush=True)
    print()
    summarize(corpus, results)
    print(f"results: {results_path}")


if __name__ == "__main__":
    main()
