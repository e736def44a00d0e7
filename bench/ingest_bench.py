#!/usr/bin/env python3
"""Ingest throughput (issue #3): `gongkai convert` against DuckDB for CSV → Parquet
and against pandas + openpyxl + pyarrow for XLSX → Parquet, same files, same run.

Targets: ≥ 1.0× DuckDB's throughput for CSV, ≥ 20× pandas' for XLSX.
Each tool runs in its own process (so peak RSS is its own); wall time is
measured around the process, the best of RUNS runs (the median is shown too);
the two tools of a comparison take turns run by run, so drift of a shared
machine's speed falls on both.
Environment: CSV_ROWS (1000000), XLSX_ROWS (100000), RUNS (5), GONGKAI_BIN, OUT.

MODE=stream: peak RSS of `gongkai convert` on CSV files of growing size
(STREAM_SIZES_MB, default 100,300,1000), and on the largest both tools in turns
over RUNS rounds (2 unless set): a streamed ingest's memory must not grow with
the file, and its throughput is compared where DuckDB's start-up no longer counts.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

CSV_ROWS = int(os.environ.get("CSV_ROWS", "1000000"))
XLSX_ROWS = int(os.environ.get("XLSX_ROWS", "100000"))
RUNS = int(os.environ.get("RUNS", "5"))
BIN = os.environ["GONGKAI_BIN"]
OUT = os.environ.get("OUT", "/tmp")

TOWNS = ["城关镇", "石墙镇", "大束镇", "香城镇", "邵庄镇", "黄楼街道"]
WAYS = ["公开招标", "竞争性磋商", "询价", "单一来源"]
HEADER = ["项目编号", "乡镇", "采购方式", "供应商", "中标金额(万元)", "公告日期"]


def rows(n):
    rnd = random.Random(7)
    for i in range(n):
        yield [
            f"ZFCG-{i:08d}",
            rnd.choice(TOWNS),
            rnd.choice(WAYS),
            f"供应商{rnd.randint(1, 5000)}有限公司",
            f"{rnd.randint(100, 9000000) / 100:.2f}",
            f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        ]


def write_csv(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(HEADER) + "\n")
        for r in rows(n):
            f.write(",".join(r) + "\n")


def write_xlsx(path, n):
    import xlsxwriter

    wb = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = wb.add_worksheet("采购结果")
    ws.write_row(0, 0, HEADER)
    for i, r in enumerate(rows(n), start=1):
        ws.write_row(i, 0, r[:4])
        ws.write_number(i, 4, float(r[4]))
        ws.write_string(i, 5, r[5])
    wb.close()


def run_once(cmd):
    """Wall time of one run and the child's peak RSS (MiB)."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - t
        if status != 0:
            err.seek(0)
            sys.exit(f"{cmd[0]} failed: {err.read()[-2000:].decode(errors='replace')}")
    # Linux reports ru_maxrss in KiB, for this child alone.
    return elapsed, usage.ru_maxrss // 1024


def timed_in_turns(cmds):
    """Best and median wall time, largest peak RSS and the round-by-round
    times of each command over RUNS rounds, the commands taking turns within
    each round: a slow minute of a shared machine then falls on every tool
    alike."""
    times = [[] for _ in cmds]
    peaks = [0 for _ in cmds]
    for _ in range(RUNS):
        for i, cmd in enumerate(cmds):
            elapsed, rss = run_once(cmd)
            times[i].append(elapsed)
            peaks[i] = max(peaks[i], rss)
    return [(min(t), statistics.median(t), p, t) for t, p in zip(times, peaks)]


def round_ratios(ours, peer):
    """The peer's time over ours in each round (the two ran back to back), as
    (median, lowest, highest): on a machine whose speed drifts, a round's
    ratio compares like with like where best and median of each tool alone
    may come from different minutes."""
    r = sorted(p / o for o, p in zip(ours, peer))
    return statistics.median(r), r[0], r[-1]


def main():
    work = tempfile.mkdtemp(prefix="gongkai-ingest-bench.")
    csv_path = os.path.join(work, "procurement.csv")
    xlsx_path = os.path.join(work, "procurement.xlsx")
    print(f"== generating {CSV_ROWS} CSV rows and {XLSX_ROWS} XLSX rows in {work}")
    write_csv(csv_path, CSV_ROWS)
    write_xlsx(xlsx_path, XLSX_ROWS)
    csv_mb = os.path.getsize(csv_path) / 1e6
    xlsx_mb = os.path.getsize(xlsx_path) / 1e6
    out = os.path.join(work, "out.parquet")
    py = sys.executable
    duckdb = [py, "-c", (
        "import duckdb,sys; duckdb.sql(\"COPY (SELECT * FROM read_csv_auto('%s')) TO '%s' (FORMAT parquet)\")"
        % (csv_path, out))]
    pandas = [py, "-c", (
        "import pandas as pd; pd.read_excel('%s', engine='openpyxl').to_parquet('%s', engine='pyarrow')"
        % (xlsx_path, out))]
    results = {}
    for pair, mb in [
        ([("gongkai_csv", [BIN, "convert", csv_path, out]), ("duckdb_csv", duckdb)], csv_mb),
        ([("gongkai_xlsx", [BIN, "convert", xlsx_path, out]), ("pandas_xlsx", pandas)], xlsx_mb),
    ]:
        timings = timed_in_turns([cmd for _, cmd in pair])
        for (name, _), (secs, median, rss, _) in zip(pair, timings):
            results[name] = {"seconds": round(secs, 3), "median_seconds": round(median, 3),
                             "mb_per_s": round(mb / secs, 2), "peak_rss_mib": rss, "input_mb": round(mb, 1)}
            print(f"{name:14s} {secs:8.2f} s (median {median:.2f} s)  {mb / secs:8.2f} MB/s  "
                  f"peak RSS {rss} MiB  ({mb:.1f} MB)")
        results[f"{pair[0][0]}_round_ratio"] = [round(x, 3) for x in round_ratios(timings[0][3], timings[1][3])]
    csv_ratio = results["duckdb_csv"]["seconds"] / results["gongkai_csv"]["seconds"]
    xlsx_ratio = results["pandas_xlsx"]["seconds"] / results["gongkai_xlsx"]["seconds"]
    csv_round = results["gongkai_csv_round_ratio"]
    xlsx_round = results["gongkai_xlsx_round_ratio"]
    print(f"CSV:  Gongkai throughput = {csv_ratio:.2f}× DuckDB's, best against best (target ≥ 1.0); "
          f"round by round {csv_round[0]:.2f}× median, {csv_round[1]:.2f}–{csv_round[2]:.2f}×")
    print(f"XLSX: Gongkai throughput = {xlsx_ratio:.2f}× pandas', best against best (target ≥ 20); "
          f"round by round {xlsx_round[0]:.2f}× median, {xlsx_round[1]:.2f}–{xlsx_round[2]:.2f}×")
    results["ratios"] = {"csv_vs_duckdb": round(csv_ratio, 3), "xlsx_vs_pandas": round(xlsx_ratio, 3)}
    with open(os.path.join(OUT, "gongkai-ingest-bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {OUT}/gongkai-ingest-bench.json")


def stream():
    sizes = [int(x) for x in os.environ.get("STREAM_SIZES_MB", "100,300,1000").split(",")]
    work = tempfile.mkdtemp(prefix="gongkai-stream-bench.")
    out = os.path.join(work, "out.parquet")
    py = sys.executable
    results = {}
    row_bytes = 85  # about one generated row in UTF-8
    global RUNS
    # The largest file: both tools in turns, RUNS rounds (2 unless set);
    # the smaller ones: Gongkai once (their figure is the peak RSS).
    rounds = int(os.environ.get("RUNS", "2"))
    for mb in sizes:
        path = os.path.join(work, f"procurement-{mb}mb.csv")
        n = mb * 1_000_000 // row_bytes
        print(f"== generating ~{mb} MB ({n} rows)", flush=True)
        write_csv(path, n)
        # Written out before timing: the kernel's write-back of a fresh
        # file would otherwise fall on the first tool's run alone.
        os.sync()
        real_mb = os.path.getsize(path) / 1e6
        gongkai = [BIN, "convert", path, out]
        duck = [py, "-c", (
            "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv_auto('%s')) TO '%s' (FORMAT parquet)\")"
            % (path, out))]
        last = mb == sizes[-1]
        RUNS = rounds if last else 1
        timings = timed_in_turns([gongkai, duck] if last else [gongkai])
        secs, median, rss, _ = timings[0]
        results[f"gongkai_{mb}mb"] = {"input_mb": round(real_mb, 1), "rows": n, "seconds": round(secs, 2),
                                      "median_seconds": round(median, 2),
                                      "mb_per_s": round(real_mb / secs, 2), "peak_rss_mib": rss}
        print(f"gongkai {real_mb:8.1f} MB  {n:>9} rows  {secs:7.1f} s (median {median:.1f})  "
              f"{real_mb / secs:6.1f} MB/s  peak RSS {rss} MiB", flush=True)
        if last:
            dsecs, dmedian, drss, _ = timings[1]
            ratio, low, high = round_ratios(timings[0][3], timings[1][3])
            results[f"duckdb_{mb}mb"] = {"seconds": round(dsecs, 2), "median_seconds": round(dmedian, 2),
                                         "mb_per_s": round(real_mb / dsecs, 2), "peak_rss_mib": drss}
            results["round_ratio"] = [round(ratio, 3), round(low, 3), round(high, 3)]
            print(f"duckdb  {real_mb:8.1f} MB  {n:>9} rows  {dsecs:7.1f} s (median {dmedian:.1f})  "
                  f"{real_mb / dsecs:6.1f} MB/s  peak RSS {drss} MiB")
            print(f"CSV throughput: Gongkai = {dsecs / secs:.3f}× DuckDB's (best of {rounds}), "
                  f"{dmedian / median:.3f}× (median); round by round {ratio:.3f}× median, "
                  f"{low:.3f}–{high:.3f}×")
        os.remove(path)
    with open(os.path.join(OUT, "gongkai-stream-bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {OUT}/gongkai-stream-bench.json")


if __name__ == "__main__":
    if os.environ.get("MODE") == "stream":
        stream()
    else:
        main()
