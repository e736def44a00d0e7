#!/usr/bin/env python3
"""SQL query service benchmark (issue #6): Gongkai over HTTP vs DuckDB in-process
vs Datasette over HTTP, on the same data, in the same run.

Run it through bench/query.sh, which installs the Python dependencies. Steps:

 1. generate two tables with DuckDB (deterministic, hash-based): a procurement
    list (`procurement`) and a subsidy list (`subsidy`), ROWS rows each, as CSV;
 2. start `gongkai serve` on a fresh data directory and publish both CSVs through
    the real API as an agency would (editor uploads and submits, reviewer
    approves and publishes), timing each stage;
 3. download the published Parquet files, so DuckDB reads exactly what Gongkai
    serves, and copy the same rows into SQLite for Datasette (plain tables, no
    indexes, opened immutable as a published Datasette would be);
 4. run the researcher queries once on every engine and compare the answers;
 5. latency: one warm-up, then RUNS timed runs per query per engine;
 6. throughput: CLIENTS threads (16) for SECONDS_PER_CONC seconds per engine,
    issuing the query mix round-robin.

Environment: ROWS (1000000), RUNS (5), SECONDS_PER_CONC (20), CLIENTS (16),
GONGKAI_BIN (required), OUT (directory for the JSON result, /tmp),
KEEP_WORK=1 keeps the temporary directory, WORK_DIR picks it.
"""

import datetime
import decimal
import glob
import http.client
import itertools
import json
import math
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import duckdb

# --------------------------------------------------------------------------
# settings

ROWS = int(os.environ.get("ROWS", "1000000"))
RUNS = int(os.environ.get("RUNS", "5"))
SECONDS_PER_CONC = float(os.environ.get("SECONDS_PER_CONC", "20"))
CLIENTS = int(os.environ.get("CLIENTS", "16"))
GONGKAI_BIN = os.environ.get("GONGKAI_BIN", "")
OUT_DIR = os.environ.get("OUT", "/tmp")
KEEP_WORK = os.environ.get("KEEP_WORK", "") == "1"

P_SLUG = "procurement-bench"
S_SLUG = "subsidy-bench"
P_TABLE = f'"{P_SLUG}"'
S_TABLE = f'"{S_SLUG}"'
HTTP_TIMEOUT = 900  # seconds; a Datasette query on 10M rows can take minutes


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------
# data generation (DuckDB, deterministic: every value is a function of hash(row, k))

COUNTIES = ["青山县", "临河县", "东坡县", "南岭县", "西川县"]
DEPARTMENTS = [
    "交通运输局", "水利局", "教育局", "卫生健康委员会", "农业农村局",
    "住房和城乡建设局", "自然资源局", "生态环境局", "民政局", "财政局",
]
AGENCIES = [c + d for c in COUNTIES for d in DEPARTMENTS]  # 50, all end in 局/会
CATEGORIES = [
    "货物类-办公设备", "货物类-信息化设备", "货物类-公务车辆", "工程类-道路建设",
    "工程类-水利设施", "工程类-房屋修缮", "服务类-物业管理", "服务类-信息技术服务",
    "服务类-工程监理", "服务类-咨询评估",
]
# 50 trade names × 10 place words × 10 lines of business = 5000 companies.
TRADE_NAMES = [
    "宏远", "恒通", "华信", "鼎盛", "瑞丰", "天成", "金桥", "永利", "新源", "博远",
    "中恒", "汇丰", "嘉诚", "润泽", "昌盛", "鑫达", "泰和", "康达", "祥瑞", "锦程",
    "正阳", "启明", "众创", "兴业", "安泰", "百川", "绿源", "宇航", "卓越", "开元",
    "顺达", "长青", "德信", "腾飞", "联合", "凯旋", "通达", "佳和", "远景", "明辉",
    "海纳", "天润", "万方", "同创", "益民", "广厦", "富源", "信达", "合力", "东升",
]
PLACE_WORDS = ["青山", "临河", "东坡", "南岭", "西川", "江北", "湖滨", "云岭", "松原", "平川"]
BUSINESSES = [
    "建设工程", "信息技术", "物业服务", "交通设施", "环保科技",
    "建材贸易", "水利水电", "医疗器械", "办公用品", "园林绿化",
]
TOWNSHIPS = [
    "城关镇", "东关镇", "西河镇", "南坪镇", "北山乡", "石桥镇", "柳林镇", "杨庄乡",
    "河口镇", "白水镇", "青石乡", "高桥镇", "新店镇", "龙泉镇", "双河乡", "太平镇",
    "永安镇", "长乐乡", "三合镇", "平安镇", "清水乡", "红星镇", "金山镇", "马鞍乡",
    "沙坪镇", "黄土镇", "桃源乡", "凤凰镇", "梅花镇", "大坝乡",
]
VILLAGE_WORDS = [
    "东风", "向阳", "红旗", "新民", "和平", "胜利", "光明", "友谊", "团结", "幸福",
    "前进", "民主", "建设", "丰收", "新华", "联盟", "五星", "永红", "群力", "长征",
]
SUBSIDY_TYPES = [
    "耕地地力保护补贴", "农机购置补贴", "城乡居民医疗保险补助", "农村危房改造补助",
    "生态公益林补偿", "畜牧良种补贴", "稻谷生产者补贴", "农业保险保费补贴",
]

assert len(set(AGENCIES)) == 50 and len(set(TRADE_NAMES)) == 50


def sql_list(values):
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def pick(values, h):
    """SQL: values[h % len] (DuckDB lists are 1-based)."""
    return f"{sql_list(values)}[({h} % {len(values)})::BIGINT + 1]"


def generate(con, work):
    """Creates tables procurement and subsidy in `con` and writes them as CSV."""
    u = lambda k: f"((hash(i, {k}) % 1000000)::DOUBLE / 1000000.0)"  # uniform [0, 1)
    # Supplier: skewed towards the first companies (u² ~ a few large suppliers).
    supplier = (
        f"{sql_list(TRADE_NAMES)}[(floor({u(4)} * {u(4)} * 50))::BIGINT + 1]"
        f" || {pick(PLACE_WORDS, 'hash(i, 5)')}"
        f" || {pick(BUSINESSES, 'hash(i, 6)')} || '有限公司'"
    )
    # Amount: log-uniform between 1 000 and 10 000 000 yuan (never 10+ digit runs).
    amount = f"round(exp(ln(1000) + {u(7)} * (ln(9999999) - ln(1000))), 2)::DECIMAL(18,2)"
    con.execute(f"""
        CREATE OR REPLACE TABLE procurement AS
        WITH t AS (
            SELECT i, DATE '2020-01-01' + (hash(i, 1) % 2192)::INTEGER AS award_date
            FROM range({ROWS}) r(i)
        )
        SELECT
            'ZB' || year(award_date) || '-' || lpad((i + 1)::VARCHAR, 8, '0') AS project_code,
            {pick(AGENCIES, 'hash(i, 2)')} AS agency,
            {pick(CATEGORIES, 'hash(i, 3)')} AS category,
            {supplier} AS supplier,
            {amount} AS amount,
            award_date,
            {pick(TOWNSHIPS, 'hash(i, 8)')} AS township
        FROM t ORDER BY i
    """)
    con.execute(f"""
        CREATE OR REPLACE TABLE subsidy AS
        WITH t AS (SELECT i, hash(i, 13) % 8 AS ty FROM range({ROWS}) r(i))
        SELECT
            {pick(TOWNSHIPS, 'hash(i, 11)')} AS township,
            {pick(VILLAGE_WORDS, 'hash(i, 12)')} || '村' AS village,
            {sql_list(SUBSIDY_TYPES)}[ty::BIGINT + 1] AS subsidy_type,
            round(100 + (ty + 1) * 300 * {u(14)} * {u(15)} * 8, 2)::DECIMAL(18,2) AS amount,
            (2020 + hash(i, 16) % 6)::INTEGER AS year,
            (1 + floor({u(17)} * {u(18)} * 8))::INTEGER AS household_size
        FROM t ORDER BY i
    """)
    paths = {}
    for name in ("procurement", "subsidy"):
        path = os.path.join(work, f"{name}.csv")
        con.execute(f"COPY {name} TO '{path}' (HEADER, DELIMITER ',')")
        paths[name] = path
    return paths


# --------------------------------------------------------------------------
# HTTP helpers (one keep-alive connection per thread)


class Http:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, headers=None, retry=True):
        c = self._conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except (http.client.HTTPException, ConnectionError, BrokenPipeError):
            c.close()
            self.local.conn = None
            if retry and not hasattr(body, "read"):
                return self.request(method, path, body, headers, retry=False)
            raise

    def json(self, method, path, obj=None, token=None, expect=(200, 201)):
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = None
        if obj is not None:
            body = json.dumps(obj).encode()
            headers["Content-Type"] = "application/json"
        status, _, data = self.request(method, path, body, headers)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        if status not in expect:
            raise RuntimeError(f"{method} {path} -> {status}: {str(parsed)[:2000]}")
        return parsed


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# Gongkai


class Gongkai:
    name = "gongkai"

    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.data_dir = os.path.join(work, "gongkai-data")
        self.admin = "gk_bench_" + secrets.token_hex(16)
        self.proc = None
        self.base = None
        # Gongkai answers `gongkai-cache: hit|miss` when it keeps results;
        # counted to make sure the uncached figures never come from its cache.
        self.lock = threading.Lock()
        self.cache_seen = {}

    def version(self):
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=30)
            return out.stdout.strip() or out.stderr.strip()
        except Exception as e:  # noqa: BLE001
            return f"unknown ({e})"

    def start(self):
        config = os.path.join(self.work, "gongkai-bench.toml")
        with open(config, "w") as f:
            f.write(
                "max_upload_bytes = 10737418240\n"
                "[query]\nmax_rows = 1000000\ntimeout_secs = 300\nmemory_mb = 4096\nmax_concurrent = 32\n"
                # One loopback client stands for many researchers: no quotas,
                # and uploads as large as the generated files.
                "[rate_limit]\nenabled = false\n"
                "[uploads]\nadmin_max_bytes = 10737418240\nreviewer_max_bytes = 10737418240\neditor_max_bytes = 10737418240\n"
            )
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.work, "gongkai-server.log")
        env = dict(os.environ, GONGKAI_ADMIN_TOKEN=self.admin)
        for k in ("GONGKAI_CATALOG", "GONGKAI_STORE", "GONGKAI_DATA_DIR", "GONGKAI_LISTEN", "GONGKAI_CONFIG"):
            env.pop(k, None)
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--config", config, "--data-dir", self.data_dir,
             "--listen", "127.0.0.1:0", "--no-examples"],
            stdout=subprocess.PIPE, stderr=open(self.log_path, "w"), env=env, text=True,
        )
        found = []
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                if line.startswith("gongkai: listening on "):
                    found.append(line.split("listening on ", 1)[1].strip())
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(120) or not found:
            self.stop()
            raise RuntimeError("gongkai serve did not start:\n" + self.log_tail())
        self.base = found[0]
        self.http = Http(self.base)
        status, _, _ = self.http.request("GET", "/healthz")
        if status != 200:
            raise RuntimeError(f"/healthz answered {status}")
        log(f"gongkai listening on {self.base} (pid {self.proc.pid})")

    def log_tail(self, n=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def peak_rss_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # Publishing, as an agency would.
    def setup_accounts(self):
        h = self.http
        h.json("POST", "/api/v1/agencies", {"slug": "bench-county", "name": "青山县人民政府"}, self.admin)
        h.json("POST", "/api/v1/agencies",
               {"slug": "bench-finance", "name": "青山县财政局", "parent": "bench-county"}, self.admin)
        tokens = {}
        for user, role in (("bench-editor", "editor"), ("bench-reviewer", "reviewer")):
            h.json("POST", "/api/v1/users", {"name": user, "role": role, "agency": "bench-finance"}, self.admin)
            tokens[role] = h.json("POST", "/api/v1/tokens", {"user": user}, self.admin)["token"]
        self.editor, self.reviewer = tokens["editor"], tokens["reviewer"]

    def publish(self, slug, title, csv_path):
        h = self.http
        times = {}
        t = time.perf_counter()
        h.json("POST", "/api/v1/datasets",
               {"slug": slug, "title": title, "agency": "bench-finance"}, self.editor)
        size = os.path.getsize(csv_path)
        # Upload: streamed raw body; the answer comes once ingest is done.
        t = time.perf_counter()
        conn = http.client.HTTPConnection(self.http.host, self.http.port, timeout=7200)
        with open(csv_path, "rb") as f:
            conn.request("POST", f"/api/v1/datasets/{slug}/uploads?filename={os.path.basename(csv_path)}",
                         body=f, headers={"Authorization": f"Bearer {self.editor}",
                                          "Content-Type": "text/csv", "Content-Length": str(size)})
            r = conn.getresponse()
            data = r.read()
        conn.close()
        times["upload_ingest_s"] = time.perf_counter() - t
        body = json.loads(data)
        if r.status != 201:
            raise RuntimeError(f"upload of {slug} answered {r.status}: {json.dumps(body, ensure_ascii=False)[:3000]}")
        version = body["version"]
        report = body.get("report") or {}
        findings = report.get("privacy") or []
        warnings = report.get("warnings") or []
        base = f"/api/v1/datasets/{slug}/versions/{version}"
        t = time.perf_counter()
        h.json("POST", f"{base}/submit", {"change_note": "benchmark data"}, self.editor)
        times["submit_s"] = time.perf_counter() - t
        t = time.perf_counter()
        h.json("POST", f"{base}/approve",
               {"confidentiality_reviewed": True, "redaction_confirmed": True}, self.reviewer)
        times["approve_s"] = time.perf_counter() - t
        t = time.perf_counter()
        h.json("POST", f"{base}/publish", {}, self.reviewer)
        times["publish_s"] = time.perf_counter() - t
        times["csv_mb"] = size / 1e6
        times["ingest_mb_per_s"] = size / 1e6 / times["upload_ingest_s"]
        return {"version": version, "rows": body.get("rows"), "columns": body.get("columns"),
                "findings": findings, "warnings": warnings, "times": times}

    def download_parquet(self, slug, path):
        t = time.perf_counter()
        conn = http.client.HTTPConnection(self.http.host, self.http.port, timeout=HTTP_TIMEOUT)
        conn.request("GET", f"/api/v1/datasets/{slug}/data.parquet")
        r = conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"data.parquet of {slug} answered {r.status}: {r.read()[:500]!r}")
        with open(path, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
        conn.close()
        return time.perf_counter() - t

    # Queries.
    def query(self, sql):
        status, headers, data = self.http.request(
            "POST", "/api/v1/sql", json.dumps({"sql": sql}).encode(),
            {"Content-Type": "application/json", "Accept": "application/json"})
        body = json.loads(data)
        if status != 200:
            raise RuntimeError(f"gongkai answered {status}: {json.dumps(body, ensure_ascii=False)[:500]}")
        if body.get("error"):
            raise RuntimeError(f"gongkai failed mid-result: {body['error']}")
        if body.get("truncated"):
            raise RuntimeError("gongkai truncated the result")
        cache = headers.get("gongkai-cache")
        if cache:
            with self.lock:
                self.cache_seen[cache] = self.cache_seen.get(cache, 0) + 1
        names = [c["name"] for c in body["columns"]]
        return names, [[row.get(n) for n in names] for row in body["rows"]]


# --------------------------------------------------------------------------
# DuckDB, in-process on the Parquet files Gongkai serves


class DuckDB:
    name = "duckdb"

    def __init__(self, parquet):
        self.con = duckdb.connect()
        for slug, path in parquet.items():
            self.con.execute(f"CREATE VIEW \"{slug}\" AS SELECT * FROM read_parquet('{path}')")
        self.local = threading.local()

    def query(self, sql):
        cur = getattr(self.local, "cur", None)
        if cur is None:
            cur = self.local.cur = self.con.cursor()
        cur.execute(sql)
        rows = cur.fetchall()
        return [d[0] for d in cur.description], rows


# --------------------------------------------------------------------------
# SQLite + Datasette


def sqlite_extension_path():
    try:
        import duckdb_extension_sqlite_scanner as m  # noqa: PLC0415
    except ImportError:
        return None
    found = glob.glob(os.path.join(os.path.dirname(m.__file__), "extensions", "*", "sqlite_scanner.duckdb_extension"))
    return found[0] if found else None


def build_sqlite(db_path, parquet):
    """Plain tables (no indexes), same names and columns as in Gongkai.
    DECIMAL → REAL, DATE → TEXT 'YYYY-MM-DD' (SQLite's usual representations)."""
    con = duckdb.connect()
    schemas = {}
    for slug, path in parquet.items():
        schemas[slug] = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    lite = sqlite3.connect(db_path)
    selects = {}
    for slug, cols in schemas.items():
        defs, exprs = [], []
        for name, typ, *_ in cols:
            t = typ.upper()
            if t.startswith("DECIMAL") or t in ("DOUBLE", "FLOAT", "REAL"):
                defs.append(f'"{name}" REAL')
                exprs.append(f'"{name}"::DOUBLE')
            elif t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
                defs.append(f'"{name}" INTEGER')
                exprs.append(f'"{name}"')
            elif t == "DATE":
                defs.append(f'"{name}" TEXT')
                exprs.append(f"strftime(\"{name}\", '%Y-%m-%d')")
            elif t == "BOOLEAN":
                defs.append(f'"{name}" INTEGER')
                exprs.append(f'"{name}"::INTEGER')
            else:
                defs.append(f'"{name}" TEXT')
                exprs.append(f'"{name}"::VARCHAR')
        lite.execute(f'CREATE TABLE "{slug}" ({", ".join(defs)})')
        selects[slug] = ", ".join(exprs)
    lite.commit()
    lite.close()
    ext = sqlite_extension_path()
    method = None
    if ext:
        try:
            con.execute(f"LOAD '{ext}'")
            con.execute(f"ATTACH '{db_path}' AS lite (TYPE sqlite)")
            for slug, path in parquet.items():
                con.execute(f'INSERT INTO lite."{slug}" SELECT {selects[slug]} FROM read_parquet(\'{path}\')')
            con.execute("DETACH lite")
            method = "duckdb sqlite extension"
        except duckdb.Error as e:
            log(f"DuckDB's sqlite extension failed ({e}); loading with Python's sqlite3")
    if method is None:
        lite = sqlite3.connect(db_path)
        for slug, path in parquet.items():
            lite.execute(f'DELETE FROM "{slug}"')
            cur = con.execute(f"SELECT {selects[slug]} FROM read_parquet('{path}')")
            ncols = len(cur.description)
            insert = f'INSERT INTO "{slug}" VALUES ({", ".join("?" * ncols)})'
            while True:
                batch = cur.fetchmany(100_000)
                if not batch:
                    break
                lite.executemany(insert, batch)
        lite.commit()
        lite.close()
        method = "python sqlite3"
    con.close()
    lite = sqlite3.connect(db_path)
    lite.execute("ANALYZE")
    lite.commit()
    lite.close()
    return method


class Datasette:
    name = "datasette"

    def __init__(self, db_path, work):
        self.db_path = db_path
        self.dbname = os.path.splitext(os.path.basename(db_path))[0]
        self.work = work
        self.proc = None

    def start(self):
        port = free_port()
        self.log_path = os.path.join(self.work, "datasette.log")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "datasette", "serve", "-i", self.db_path,
             "--host", "127.0.0.1", "--port", str(port),
             "--setting", "sql_time_limit_ms", "600000",
             "--setting", "max_returned_rows", "1000000",
             "--setting", "num_sql_threads", str(CLIENTS)],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
        )
        self.http = Http(f"http://127.0.0.1:{port}")
        deadline = time.time() + 300
        while True:
            try:
                status, _, data = self.http.request("GET", "/-/versions.json", retry=False)
                if status == 200:
                    self.versions = json.loads(data)
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("datasette did not start:\n" + open(self.log_path).read()[-3000:])
            time.sleep(0.2)
        log(f"datasette listening on 127.0.0.1:{port} (pid {self.proc.pid})")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def query(self, sql):
        q = urllib.parse.urlencode({"sql": sql, "_shape": "arrays"})
        status, _, data = self.http.request("GET", f"/{self.dbname}.json?{q}")
        body = json.loads(data)
        if status != 200 or body.get("ok") is False:
            raise RuntimeError(f"datasette answered {status}: {str(body.get('error', body))[:500]}")
        if body.get("truncated"):
            raise RuntimeError("datasette truncated the result")
        return body["columns"], body["rows"]


# --------------------------------------------------------------------------
# the researcher queries (one SQL text for all three engines)


def queries(point_code):
    P, S = P_TABLE, S_TABLE
    return [
        ("point", "one contract by its project code",
         f"SELECT * FROM {P} WHERE project_code = '{point_code}'"),
        ("range_count", "date range + amount filter, count and sum",
         f"SELECT COUNT(*) AS n, SUM(amount) AS total FROM {P} "
         f"WHERE award_date >= '2023-01-01' AND award_date < '2023-07-01' AND amount >= 100000"),
        ("by_agency", "group by agency: contracts and total",
         f"SELECT agency, COUNT(*) AS n, SUM(amount) AS total FROM {P} GROUP BY agency ORDER BY total DESC, agency"),
        ("by_township_year", "subsidies grouped by township and year",
         f"SELECT township, year, COUNT(*) AS households, SUM(amount) AS total, AVG(household_size) AS avg_size "
         f"FROM {S} GROUP BY township, year ORDER BY township, year"),
        ("top_suppliers", "top 20 suppliers by awarded amount",
         f"SELECT supplier, COUNT(*) AS contracts, SUM(amount) AS total FROM {P} "
         f"GROUP BY supplier ORDER BY total DESC, supplier LIMIT 20"),
        ("join_township", "procurement × subsidy per township (two datasets, aggregated join)",
         f"WITH p AS (SELECT township, COUNT(*) AS contracts, SUM(amount) AS works_total FROM {P} "
         f"WHERE category LIKE '工程类%' GROUP BY township), "
         f"s AS (SELECT township, COUNT(*) AS grants, SUM(amount) AS subsidy_total FROM {S} "
         f"WHERE year = 2024 GROUP BY township) "
         f"SELECT p.township, p.contracts, p.works_total, s.grants, s.subsidy_total "
         f"FROM p JOIN s ON p.township = s.township ORDER BY p.township"),
        ("join_filter", "contracts in the 10 townships with most housing-repair subsidy (join on a subquery)",
         f"SELECT p.agency, COUNT(*) AS n, SUM(p.amount) AS total FROM {P} p "
         f"JOIN (SELECT township FROM {S} WHERE subsidy_type = '农村危房改造补助' "
         f"GROUP BY township ORDER BY SUM(amount) DESC, township LIMIT 10) t ON p.township = t.township "
         f"WHERE p.award_date >= '2024-01-01' GROUP BY p.agency ORDER BY p.agency"),
        ("distinct", "distinct suppliers and agencies per category",
         f"SELECT category, COUNT(DISTINCT supplier) AS suppliers, COUNT(DISTINCT agency) AS agencies "
         f"FROM {P} GROUP BY category ORDER BY category"),
        ("like", "LIKE filter on supplier name",
         f"SELECT COUNT(*) AS n, SUM(amount) AS total FROM {P} WHERE supplier LIKE '%环保科技%'"),
        ("page", "one township's contracts, second page of 100 by amount",
         f"SELECT project_code, agency, supplier, amount, award_date FROM {P} "
         f"WHERE township = '石桥镇' ORDER BY amount DESC, project_code LIMIT 100 OFFSET 100"),
    ]


# --------------------------------------------------------------------------
# comparing answers


def norm(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, str):
        s = v.strip()
        if s and (s[0].isdigit() or s[0] == "-") and s.replace(".", "", 1).lstrip("-").isdigit():
            return float(s)
        return v
    return str(v)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 0.006
    return a == b


def compare(reference, other):
    """None when equal, else a short description of the first difference."""
    (c1, r1), (c2, r2) = reference, other
    if len(c1) != len(c2):
        return f"columns {c1} vs {c2}"
    if len(r1) != len(r2):
        return f"{len(r1)} rows vs {len(r2)} rows"
    for i, (x, y) in enumerate(zip(r1, r2)):
        nx, ny = [norm(v) for v in x], [norm(v) for v in y]
        if not all(same(a, b) for a, b in zip(nx, ny)):
            return f"row {i}: {nx} vs {ny}"
    return None


# --------------------------------------------------------------------------
# measuring


_nonce = itertools.count(1)


def fresh(sql):
    """The same query with a unique trailing comment: Gongkai keeps results
    keyed by the SQL text, and the engine comparison must not measure that
    cache. Every engine gets the same comment, so they parse the same text."""
    return f"{sql} /* run {next(_nonce)} */"


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed(engine, sql):
    t = time.perf_counter()
    engine.query(sql)
    return time.perf_counter() - t


def stats(ts):
    return {"median_ms": statistics.median(ts) * 1e3, "p95_ms": pct(ts, 95) * 1e3,
            "runs_ms": [t * 1e3 for t in ts]}


def latency(engines, qs, gk):
    """Every run sends a fresh SQL text (see `fresh`); then, for Gongkai only,
    RUNS repeats of one text, which its result cache may answer."""
    out = {}
    for name, _, sql in qs:
        out[name] = {}
        before = gk.cache_seen.get("hit", 0)
        for e in engines:
            timed(e, fresh(sql))  # warm-up
            out[name][e.name] = stats([timed(e, fresh(sql)) for _ in range(RUNS)])
        out[name]["gongkai"]["cache_hits"] = gk.cache_seen.get("hit", 0) - before
        if out[name]["gongkai"]["cache_hits"]:
            log(f"  WARNING: Gongkai answered fresh SQL texts of {name} from its cache")
        before = dict(gk.cache_seen)
        timed(gk, sql)  # fills the cache, if any
        out[name]["gongkai_repeat"] = stats([timed(gk, sql) for _ in range(RUNS)])
        out[name]["gongkai_repeat"]["cache_hits"] = gk.cache_seen.get("hit", 0) - before.get("hit", 0)
        r = out[name]
        log(f"  {name:<17} " + "  ".join(f"{e.name} {r[e.name]['median_ms']:9.1f} ms" for e in engines)
            + f"  gongkai repeated {r['gongkai_repeat']['median_ms']:7.1f} ms")
    return out


def throughput(engine, qs, clients, seconds, repeat=False):
    lat, errors = [], []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds

    def worker(k):
        i = k
        mine, errs = [], []
        while time.perf_counter() < deadline:
            sql = qs[i % len(qs)][2]
            if not repeat:
                sql = fresh(sql)
            i += 1
            t = time.perf_counter()
            try:
                engine.query(sql)
                mine.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001
                errs.append(str(e)[:300])
        with lock:
            lat.extend(mine)
            errors.extend(errs)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"clients": clients, "seconds": elapsed, "queries": len(lat), "errors": len(errors),
            "error_samples": sorted(set(errors))[:5], "qps": len(lat) / elapsed,
            "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3}


def geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


# --------------------------------------------------------------------------
# machine facts


def machine():
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "ram_gib": mem, "cpu": cpu, "kernel": platform.release(),
            "python": platform.python_version()}


# --------------------------------------------------------------------------


def main():
    if not GONGKAI_BIN or not os.access(GONGKAI_BIN, os.X_OK):
        sys.exit(f"GONGKAI_BIN={GONGKAI_BIN!r} is not an executable gongkai binary")
    work = os.environ.get("WORK_DIR") or tempfile.mkdtemp(prefix="gongkai-query-bench-")
    os.makedirs(work, exist_ok=True)
    gk = Gongkai(GONGKAI_BIN, work)
    ds = None
    result = {"issue": 6, "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "rows": ROWS, "runs": RUNS, "clients": CLIENTS, "seconds_per_conc": SECONDS_PER_CONC,
              "machine": machine(), "gongkai_bin": GONGKAI_BIN}
    try:
        result["versions"] = {"gongkai": gk.version(), "duckdb": duckdb.__version__,
                              "sqlite": sqlite3.sqlite_version}
        log(f"ROWS={ROWS} RUNS={RUNS} CLIENTS={CLIENTS} SECONDS_PER_CONC={SECONDS_PER_CONC}; work dir {work}")
        result["debug_build"] = "/debug/" in os.path.realpath(GONGKAI_BIN)
        if result["debug_build"]:
            log("WARNING: a debug build of gongkai: its times say nothing about Gongkai's speed")

        # 1. generate
        t = time.perf_counter()
        gen = duckdb.connect()
        csv = generate(gen, work)
        point_code = gen.execute(
            f"SELECT project_code FROM procurement WHERE project_code LIKE '%-{ROWS // 2 + 1:08d}'").fetchone()[0]
        gen.close()
        result["generate_s"] = time.perf_counter() - t
        log(f"generated {ROWS:,} + {ROWS:,} rows in {result['generate_s']:.1f} s: "
            + ", ".join(f"{k}.csv {os.path.getsize(p) / 1e6:.1f} MB" for k, p in csv.items()))

        # 2. publish through Gongkai
        gk.start()
        gk.setup_accounts()
        publishing = {}
        for slug, title, path in ((P_SLUG, "政府采购合同公告（基准测试）", csv["procurement"]),
                                  (S_SLUG, "惠农补贴发放情况（基准测试）", csv["subsidy"])):
            p = gk.publish(slug, title, path)
            publishing[slug] = p
            tm = p["times"]
            tm["gongkai_peak_rss_mb_after"] = gk.peak_rss_mb()
            log(f"published {slug} v{p['version']}: {p['rows']} rows; upload+ingest {tm['upload_ingest_s']:.1f} s "
                f"({tm['ingest_mb_per_s']:.1f} MB/s of CSV), submit {tm['submit_s'] * 1e3:.0f} ms, "
                f"approve {tm['approve_s'] * 1e3:.0f} ms, publish {tm['publish_s']:.2f} s; "
                f"gongkai peak RSS so far {tm['gongkai_peak_rss_mb_after'] or 0:.0f} MB")
            if p["findings"]:
                log(f"  privacy findings: {json.dumps(p['findings'], ensure_ascii=False)[:1000]}")
            if p["warnings"]:
                log(f"  ingest warnings: {json.dumps(p['warnings'], ensure_ascii=False)[:1000]}")
            if p["rows"] != ROWS:
                log(f"  WARNING: {ROWS} rows uploaded but the version has {p['rows']}")
        result["publishing"] = publishing
        # Column names and types as Gongkai serves them.
        described = {}
        for slug in (P_SLUG, S_SLUG):
            d = gk.http.json("GET", f"/api/v1/datasets/{slug}")
            described[slug] = [
                {k: c.get(k) for k in ("name", "type", "pii", "action") if c.get(k) is not None}
                for c in d.get("columns", [])]
            log(f"  {slug} columns: " + ", ".join(f"{c['name']} {c.get('type')}" for c in described[slug]))
            for c in described[slug]:
                if c.get("pii") or c.get("action"):
                    log(f"  WARNING: Gongkai treats {slug}.{c['name']} as personal data: {c}")
        result["columns"] = described

        # 3. Parquet for DuckDB, SQLite for Datasette
        parquet = {}
        for slug in (P_SLUG, S_SLUG):
            path = os.path.join(work, f"{slug}.parquet")
            secs = gk.download_parquet(slug, path)
            parquet[slug] = path
            log(f"downloaded {slug}.parquet: {os.path.getsize(path) / 1e6:.1f} MB in {secs:.2f} s")
        result["parquet_mb"] = {s: os.path.getsize(p) / 1e6 for s, p in parquet.items()}
        db_path = os.path.join(work, "bench.db")
        t = time.perf_counter()
        method = build_sqlite(db_path, parquet)
        result["sqlite"] = {"build_s": time.perf_counter() - t, "mb": os.path.getsize(db_path) / 1e6,
                            "method": method, "indexes": "none (plain tables, ANALYZE run)",
                            "mode": "immutable (datasette -i)"}
        log(f"SQLite {result['sqlite']['mb']:.1f} MB built in {result['sqlite']['build_s']:.1f} s ({method}); "
            "plain tables, no indexes")
        ds = Datasette(db_path, work)
        ds.start()
        result["versions"]["datasette"] = ds.versions.get("datasette", {}).get("version")
        duck = DuckDB(parquet)
        engines = [gk, duck, ds]

        # 4. same answers?
        qs = queries(point_code)
        result["queries"] = [{"name": n, "what": w, "sql": s} for n, w, s in qs]
        mismatches = {}
        for name, _, sql in qs:
            answers = {}
            for e in engines:
                try:
                    answers[e.name] = e.query(sql)
                except Exception as ex:  # noqa: BLE001
                    mismatches[f"{name}/{e.name}"] = f"error: {ex}"
            ref = answers.get("duckdb")
            if ref is None:
                continue
            if not ref[1]:
                mismatches[f"{name}/duckdb"] = "no rows (the query checks nothing)"
            for other in ("gongkai", "datasette"):
                if other in answers:
                    diff = compare(ref, answers[other])
                    if diff:
                        mismatches[f"{name}/{other}"] = diff
        result["mismatches"] = mismatches
        if mismatches:
            log("RESULT MISMATCHES (reference: DuckDB):")
            for k, v in mismatches.items():
                log(f"  {k}: {v}")
        else:
            log(f"all {len(qs)} queries give the same answers on the three engines")
        failing = {k.split("/")[0] for k, v in mismatches.items() if v.startswith("error")}
        run_qs = [q for q in qs if q[0] not in failing]

        # 5. latency
        log(f"latency: 1 warm-up + {RUNS} runs per query per engine")
        lat = latency(engines, run_qs, gk)
        result["latency"] = lat
        for q in lat.values():
            g, d, s = (q[e]["median_ms"] for e in ("gongkai", "duckdb", "datasette"))
            q["gongkai_over_duckdb"] = g / d if d else float("nan")
            q["datasette_over_gongkai"] = s / g if g else float("nan")
        result["geomean"] = {
            "gongkai_over_duckdb": geomean([q["gongkai_over_duckdb"] for q in lat.values()]),
            "datasette_over_gongkai": geomean([q["datasette_over_gongkai"] for q in lat.values()]),
        }

        # 6. throughput
        conc = {}
        runs = [(e.name, e, False) for e in engines]
        if gk.cache_seen:
            runs.append(("gongkai_repeat", gk, True))
        for label, e, repeat in runs:
            log(f"throughput: {CLIENTS} clients × {SECONDS_PER_CONC:.0f} s on {label}")
            hits = gk.cache_seen.get("hit", 0)
            conc[label] = throughput(e, run_qs, CLIENTS, SECONDS_PER_CONC, repeat)
            c = conc[label]
            if e is gk:
                c["cache_hits"] = gk.cache_seen.get("hit", 0) - hits
            log(f"  {c['qps']:.2f} q/s, p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms, errors {c['errors']}")
            for s in c["error_samples"]:
                log(f"    error: {s}")
        result["throughput"] = conc
        result["gongkai_cache_headers"] = gk.cache_seen
        result["gongkai_peak_rss_mb"] = gk.peak_rss_mb()
        report(result)
    finally:
        if ds:
            ds.stop()
        gk.stop()
        if gk.proc and gk.proc.returncode not in (0, -15, None):
            log(f"gongkai exited with {gk.proc.returncode}; log tail:\n{gk.log_tail()}")
        os.makedirs(OUT_DIR, exist_ok=True)
        out = os.path.join(OUT_DIR, "gongkai-query-bench.json")
        with open(out, "w") as f:
            json.dump(result, f, ensure_ascii=False, indent=2, default=str)
        log(f"wrote {out}")
        if KEEP_WORK:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if result.get("mismatches"):
        sys.exit(1)


def report(r):
    lat = r["latency"]
    print()
    print(f"Gongkai SQL benchmark — {r['rows']:,} rows per table, {r['runs']} runs, "
          f"{r['machine']['nproc']} cores, {r['machine']['ram_gib']} GiB")
    print(f"versions: {r['versions']}")
    if r.get("debug_build"):
        print("WARNING: gongkai is a debug build; use a release build for figures")
    print()
    hdr = f"{'query':<18}{'gongkai ms':>12}{'p95':>9}{'duckdb ms':>12}{'p95':>9}{'datasette ms':>14}{'p95':>10}" \
          f"{'gk/duck':>9}{'ds/gk':>9}{'gk repeated':>13}"
    print(hdr)
    print("-" * len(hdr))
    for name, q in lat.items():
        g, d, s = q["gongkai"], q["duckdb"], q["datasette"]
        print(f"{name:<18}{g['median_ms']:>12.1f}{g['p95_ms']:>9.1f}{d['median_ms']:>12.1f}{d['p95_ms']:>9.1f}"
              f"{s['median_ms']:>14.1f}{s['p95_ms']:>10.1f}{q['gongkai_over_duckdb']:>9.2f}"
              f"{q['datasette_over_gongkai']:>9.1f}{q['gongkai_repeat']['median_ms']:>13.1f}")
    gm = r["geomean"]
    print("-" * len(hdr))
    ok1 = "meets" if gm["gongkai_over_duckdb"] <= 1.3 else "MISSES"
    ok2 = "meets" if gm["datasette_over_gongkai"] >= 10 else "MISSES"
    print(f"geometric mean: gongkai/duckdb {gm['gongkai_over_duckdb']:.2f} ({ok1} target ≤ 1.3), "
          f"datasette/gongkai {gm['datasette_over_gongkai']:.1f} ({ok2} target ≥ 10)")
    print("Every timed run sends a new SQL text (a unique trailing comment), so Gongkai's result cache "
          "is not measured;\n'gk repeated' is the same SQL text sent again "
          f"(cache headers seen: {r.get('gongkai_cache_headers') or 'none'}).")
    print()
    print(f"{'throughput':<16}{'clients':>8}{'q/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'queries':>9}{'errors':>8}")
    for name, c in r["throughput"].items():
        print(f"{name:<16}{c['clients']:>8}{c['qps']:>10.2f}{c['p50_ms']:>10.1f}{c['p99_ms']:>10.1f}"
              f"{c['queries']:>9}{c['errors']:>8}")
    t = r["throughput"]
    if t["duckdb"]["qps"] and t["gongkai"]["qps"] and t["datasette"]["qps"]:
        print(f"throughput ratios: gongkai/duckdb {t['gongkai']['qps'] / t['duckdb']['qps']:.2f}, "
              f"gongkai/datasette {t['gongkai']['qps'] / t['datasette']['qps']:.1f}")
    print()
    for slug, p in r["publishing"].items():
        tm = p["times"]
        print(f"publishing {slug}: {tm['csv_mb']:.1f} MB CSV, upload+ingest {tm['upload_ingest_s']:.1f} s "
              f"({tm['ingest_mb_per_s']:.1f} MB/s), publish {tm['publish_s']:.2f} s")
    if r.get("gongkai_peak_rss_mb"):
        print(f"gongkai peak RSS: {r['gongkai_peak_rss_mb']:.0f} MB")
    print("Datasette reads plain SQLite tables (no indexes), immutable mode; DuckDB runs in-process "
          "on the Parquet files Gongkai serves; Gongkai and Datasette times include HTTP and JSON decoding.")
    print()


if __name__ == "__main__":
    main()
