#!/usr/bin/env python3
"""Run `hvsleuth analyze` across a Spark cluster: `hvsleuth scan` on the
executors (one task per input file), then `hvsleuth analyze --from` on the
driver over the shards the tasks wrote.

Inputs are files, directories (walked as hvsleuth walks them: recursively,
sorted, hidden entries skipped) or globs, on storage every executor sees at
the same path; so must the --shards directory be. The result is the one
`hvsleuth analyze INPUTS` gives (same inputs, same order): the merge reads the
shards in input order, captures first.

    # one machine, every core:
    python3 scale/spark_analyze.py --master 'local[*]' --shards /tmp/shards \\
        samples/restore-flood -- --inventory samples/inventory.toml --out report/

    # a cluster (the binary shipped to the executors with --files):
    spark-submit --master spark://head:7077 --files /opt/hvsleuth/hvsleuth \\
        scale/spark_analyze.py --shards /shared/shards /shared/incident-42 -- --json

Arguments after `--` go to the merge (`hvsleuth analyze --from ...`):
--inventory, --out, --json, --dataset, --bucket (also given to the scan).
`--engine processes` runs the same tasks in local processes without Spark
(the always-run test uses it; pyspark is not needed then).

Under spark-submit, the driver's stderr reaches stdout (Spark's Python runner
joins them): use --out DIR for the outputs rather than --json on stdout.

Exit code: the merge's (0 ok, 3 partial, 4 nothing readable, 1 error); a
task that fails outright (hvsleuth missing, shard not written) is 1.
"""

import argparse
import glob
import os
import shutil
import stat
import subprocess
import sys


def walk(path):
    """A directory's files as hvsleuth's expand_inputs walks them."""
    out = []
    for name in sorted(os.listdir(path)):
        if name.startswith("."):
            continue
        p = os.path.join(path, name)
        if os.path.isdir(p):
            out.extend(walk(p))
        else:
            out.append((p, True))
    return out


def expand(args):
    """(file, found in a directory) in hvsleuth's order; globs expanded sorted."""
    out = []
    for a in args:
        matches = sorted(glob.glob(a, recursive=True)) if glob.has_magic(a) else [a]
        if not matches:
            sys.exit(f"error: {a}: no such input")
        for m in matches:
            if os.path.isdir(m):
                out.extend(walk(m))
            else:
                # A file named on the command line (or by a glob) is read even
                # if hvsleuth does not recognise it, as analyze would.
                out.append((m, False))
    return out


def binary(given):
    """The hvsleuth binary on this machine: shipped with --files, else given, else PATH."""
    try:
        from pyspark import SparkFiles

        p = SparkFiles.get("hvsleuth")
        if os.path.isfile(p):
            if not os.access(p, os.X_OK):
                os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return p
    except Exception:
        pass
    return given or shutil.which("hvsleuth") or "hvsleuth"


def scan_task(item, hvsleuth, shards, scan_args):
    """One input: `hvsleuth scan` into the shared shard directory.
    Returns (index, exit code, shard directories, stderr)."""
    index, (path, in_dir) = item
    cmd = [binary(hvsleuth), "scan", "--no-progress", "--out", shards] + scan_args
    if in_dir:
        cmd.append("--skip-unrecognised")
    cmd.append(path)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return (index, -1, [], f"{cmd[0]}: {e}")
    dirs = [l for l in r.stdout.splitlines() if l.strip()]
    return (index, r.returncode, dirs, r.stderr)


def main():
    argv = sys.argv[1:]
    merge_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, merge_args = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="files, directories or globs")
    ap.add_argument("--shards", required=True, help="shared directory for the shards")
    ap.add_argument("--master", default=None, help="Spark master (default: spark-submit's, else local[*])")
    ap.add_argument("--hvsleuth", default=None, help="path of the hvsleuth binary (default: --files, else PATH)")
    ap.add_argument("--engine", choices=["spark", "processes"], default="spark")
    a = ap.parse_args(argv)

    scan_args = []
    if "--bucket" in merge_args:
        j = merge_args.index("--bucket")
        scan_args = merge_args[j : j + 2]
    items = list(enumerate(expand(a.inputs)))
    if not items:
        sys.exit("error: no inputs")
    shards = os.path.abspath(a.shards)
    os.makedirs(shards, exist_ok=True)
    hv = a.hvsleuth

    if a.engine == "spark":
        from pyspark.sql import SparkSession

        b = SparkSession.builder.appName("hvsleuth")
        if a.master:
            b = b.master(a.master)
        elif not os.environ.get("PYSPARK_GATEWAY_PORT"):
            # Not under spark-submit (which sets the gateway and the master).
            b = b.master("local[*]")
        spark = b.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        sc = spark.sparkContext
        results = (
            sc.parallelize(items, numSlices=len(items))
            .map(lambda it: scan_task(it, hv, shards, scan_args))
            .collect()
        )
        # The merge runs while the context lives: a binary shipped with
        # --files is in its SparkFiles directory, removed by stop().
        try:
            return merge(results, items, hv, merge_args)
        finally:
            spark.stop()
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            results = list(ex.map(lambda it: scan_task(it, hv, shards, scan_args), items))
        return merge(results, items, hv, merge_args)


def merge(results, items, hv, merge_args):
    """`hvsleuth analyze --from` over the tasks' shards, in input order."""
    results.sort(key=lambda r: r[0])
    dirs = []
    failed = False
    for index, rc, ds, err in results:
        for line in err.splitlines():
            print(line, file=sys.stderr)
        # 0 ok, 3 partial, 4 nothing readable: the shard records it and the
        # merge reports it, as analyze does. Anything else lost the input.
        if rc not in (0, 3, 4):
            print(f"error: scan of {items[index][1][0]} failed (exit {rc})", file=sys.stderr)
            failed = True
        dirs.extend(ds)
    if failed:
        return 1
    if not dirs:
        print("error: nothing to analyse among the inputs", file=sys.stderr)
        return 4
    cmd = [binary(hv), "analyze", "--no-progress"]
    for d in dirs:
        cmd += ["--from", d]
    sys.stdout.flush()
    r = subprocess.run(cmd + merge_args)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
