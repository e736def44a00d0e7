#!/usr/bin/env python3
"""Hostile privacy test for Gongkai: identifiers written the way clerks write them.

Two subcommands, one script, independent of the product's code (nothing here is
read or imported from ingest/, server/ or any other crate; the normalisation
below is our own).

generate OUTDIR [--seed N]
    Writes small agency tables (CSV UTF-8 with and without BOM, CSV GBK, TSV,
    XLSX, XLS, Parquet) in which synthetic resident IDs, mobiles, UnionPay card
    numbers and person names are planted in the forms seen in the wild
    (separators of every kind, full-width digits, labels and prefixes glued on,
    split columns, Excel-mangled floats, numeric columns, headers, sheet names,
    hidden sheets/rows/columns, comments, Parquet field names, upload file
    names).  OUTDIR/manifest.json lists, per file, the name to upload it under,
    its category and title, and every planted value with its canonical value,
    its form and where it sits.  Every planted value is distinct (and no
    planted value is a substring of another), so a hit names its form.
    Deterministic for a given seed (default 1).

scan [--manifest M] [--expect-all] [--json] PATH...
    Walks PATH (files or directories, recursively; the manifest file itself is
    skipped) and extracts text units from every file:
      .parquet  every value, field names, schema/field key-value metadata
                (ARROW:schema decoded too), row-group statistics min/max;
      zip/.xlsx every entry; XML entries parsed into text nodes and attribute
                values, sheet rows (shared and inline strings) as records;
                other entries dispatched by their own type;
      .xls      xlrd: every sheet (hidden too), every cell, sheet names; plus
                the raw bytes decoded as UTF-16LE and latin-1;
      .json/.ndjson/.jsonld  every string, number, object key; every array of
                scalars and every object's values as a record;
      .csv/.tsv decoded (utf-8-sig, gb18030, utf-16), parsed into records
                (a CSV line is checked as its record: cells and adjacent
                pairs; gluing a whole line would glue unrelated numbers);
      .html     text (entities unescaped; inline tags glue, block tags break
                lines), attribute values, <tr> rows as records of their cells;
      .gz       decompressed and dispatched on the inner name;
      other     decoded text, line by line.
    The relative path of every file is scanned as well (file names leak too).
    A unit is a cell, a value, a name, a line of text, or -- for values split
    in two -- a pair of adjacent cells or of consecutive lines concatenated.

    Canonical reading (applied per character, so that a hit maps back to the
    original text): NFKC, upper-case, then drop every character that is not an
    ASCII letter or digit or a Han character -- spaces of every kind,
    zero-width characters, word joiners, dashes, hyphens, minus signs, dots,
    slashes, underscores, parentheses, colons and line breaks all vanish.
    One deliberate exception: the mask character '*' is kept, so that a
    masked value such as 139****5678 stays masked and never glues to the
    digits of a neighbouring cell.
    The loose reading (for names and E-notation) is NFKC, upper-case, with
    white space and format characters (zero-width, word joiner, BOM) removed.

    Detection:
      1. every planted value of the manifest: IDs, mobiles, cards as substrings
         of the canonical reading; names and the "also" E-notation strings of
         Excel-mangled IDs as substrings of the loose reading;
      2. generic detectors on the maximal digit runs of the canonical reading
         (also after dropping float tails such as 13912345678.0 -> 13912345678):
         18-character IDs with a valid province and birth date -- checksum-valid
         ("id18") or not ("id18_badcheck"); mobiles 1[3-9] + 9 digits on a run
         of exactly 11 digits, or a run of 12/13/15 digits that is 0/86/0086
         followed by a mobile; Luhn-valid runs of 16-19 digits starting 62;
         and E-notation numbers (mantissa >= 1, exponent 16-17) such as
         1.10105E+17 in the loose reading.
         To keep false positives down: on a glued pair only checksum-valid
         IDs count (two amounts 1437.99 | 809.10 glue to 14379980910), and a
         run whose original text is an ordinary number -- it holds a decimal
         with 1-2 fraction digits, or is grouped in thousands -- is not taken
         for a mobile, card or bad-checksum ID.  15-digit IDs and names have
         no generic rule (they need a header); the manifest catches them.
    Masked forms (139****5678, 张*丰, 欧**娜, [手机号已隐藏], 20-character
    base32 pseudonyms) are not hits.

    Output: one line per distinct (source, kind, value):
        path<TAB>kind<TAB>value<TAB>form<TAB>context
    or one JSON object per line with --json; the last line is "hits: N" in
    both modes.  Exit status 1 if there is any hit, 0 if none.

    --expect-all (needs --manifest): check instead that EVERY planted value is
    found somewhere in PATH -- proof that the scanner is live on the raw files.
    Planted values whose "where" is file_name live only in the manifest's
    upload_name (the files on disk have neutral names), so in this mode the
    upload_name of every manifest entry is scanned as an extra unit.  Prints
    the missing ones and "missing: N"; exit status 1 if any is missing.

Typical use (tests/leaks):
    python3 hostile_forms.py generate /tmp/hf
    python3 hostile_forms.py scan --manifest /tmp/hf/manifest.json --expect-all /tmp/hf
    # upload every /tmp/hf/<file> as <upload_name> with its category and title,
    # publish, download every public surface into /tmp/public, then:
    python3 hostile_forms.py scan --manifest /tmp/hf/manifest.json /tmp/public

Dependencies: pyarrow, openpyxl, xlwt, xlrd; standard library otherwise.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import functools
import gzip
import io
import json
import os
import random
import re
import sys
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Callable, Iterable, Iterator

# --------------------------------------------------------------------------
# Identifier arithmetic (shared by the generator and the generic detectors)
# --------------------------------------------------------------------------

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
             43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
# Real county-level region codes (北京朝阳, 海淀, 天津和平, 石家庄长安, 沈阳和平, 上海徐汇,
# 南京玄武, 杭州西湖, 杭州上城, 厦门思明, 青岛市南, 郑州管城, 武汉江汉, 长沙芙蓉,
# 深圳福田, 广州越秀, 重庆渝中, 成都武侯, 昆明五华, 西安长安, 南宁兴宁, 贵阳南明).
REGIONS = ["110105", "110108", "120101", "130102", "210102", "310104", "320102",
           "330106", "330102", "350203", "370202", "410104", "420103", "430102",
           "440305", "440104", "500103", "510107", "530102", "610116", "450102",
           "520102"]
# Regions reserved for Excel-mangled IDs (each E-notation string must be distinct).
MANGLED_CSV_REGIONS = ["110105", "440305", "510107"]
MANGLED_XLSX_REGIONS = ["330106", "320102", "420103", "370202", "610116", "500103"]


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    return luhn_check_digit(digits[:-1]) == digits[-1]


def valid_birth(yyyymmdd: str) -> bool:
    try:
        d = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= d <= dt.date.today()


def id18_shape_ok(s: str) -> bool:
    """Province (or 9 for permanent-residence cards) + real birth date."""
    if len(s) != 18 or not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        return False
    if s[0] != "9" and int(s[:2]) not in PROVINCES:
        return False
    return valid_birth(s[6:14])


MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")

# --------------------------------------------------------------------------
# Canonical and loose readings (our own implementation)
# --------------------------------------------------------------------------

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KEEP = re.compile("[A-Z0-9*" + _HAN + "]")


@functools.lru_cache(maxsize=None)
def _canon_char(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", ch).upper() if _KEEP.match(c))


@functools.lru_cache(maxsize=None)
def _loose_char(ch: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKC", ch).upper():
        if c.isspace() or unicodedata.category(c) == "Cf":
            continue
        out.append(c)
    return "".join(out)


class _LazyIndex:
    """Position in a reading -> position in the original text; computed only
    when a hit needs its context (the readings themselves use str.translate)."""

    def __init__(self, text: str, per_char: Callable[[str], str]):
        self.text, self.per_char, self.idx = text, per_char, None

    def __getitem__(self, i: int) -> int:
        if self.idx is None:
            self.idx = []
            for pos, ch in enumerate(self.text):
                self.idx.extend([pos] * len(self.per_char(ch)))
        return self.idx[i]


class _Table(dict):
    """str.translate table filled on demand, one character at a time."""

    def __init__(self, per_char: Callable[[str], str]):
        super().__init__()
        self.per_char = per_char

    def __missing__(self, code: int) -> str:
        self[code] = v = self.per_char(chr(code))
        return v


_CANON_TABLE = _Table(lambda ch: _canon_char(ch))
_LOOSE_TABLE = _Table(lambda ch: _loose_char(ch))


def _reading(text: str, per_char: Callable[[str], str], table: dict) -> tuple[str, _LazyIndex]:
    return text.translate(table), _LazyIndex(text, per_char)


def canonical(text: str) -> tuple[str, _LazyIndex]:
    """NFKC, upper-case, keep only A-Z, 0-9, Han and the mask '*' (per character,
    so that every position maps back to the original); with an index map."""
    return _reading(text, _canon_char, _CANON_TABLE)


def loose(text: str) -> tuple[str, _LazyIndex]:
    """NFKC, upper-case, white space and format characters removed; with an index map."""
    return _reading(text, _loose_char, _LOOSE_TABLE)


# ==========================================================================
# GENERATE
# ==========================================================================

FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９ＸＸ")

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
                "蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金廖贾夏韦付邹孟熊秦邱尹薛闫段雷侯"
                "史陶黎贺顾毛郝龚邵钱严覃戴莫孔汤")
COMPOUND_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "慕容"]
# Rare given-name characters: none of them occurs in the ordinary columns,
# titles, headers or in common UI words.
GIVEN = list("翊珩晗瑾琰昀嵘岚骞曦蕙萱璐铮璟玥彧歆霖婧妍昊琛煜琪皓珂暄芮淇烨锴韬晟槿芊祎珺瑄婳钰瑶翎骁炜熠珏瀚灏")

TOWNS = ["城关镇", "东城街道", "西城街道", "南关街道", "河口镇", "青山乡", "白水镇", "新华街道"]
VILLAGES = ["东风村", "红旗村", "向阳社区", "和平社区", "柳树村", "石桥村", "幸福社区", "团结村"]
MONTHS = ["2024年6月", "2024年5月", "2024年4月"]
REMARKS = ["按月发放", "新增", "已核实", "续保", "补发上月", "动态调整", "", "复核通过", "停发", "银行代发"]


@dataclass
class Form:
    """One way of writing an identifier: name (goes to the manifest) and renderer."""
    name: str
    render: Callable[[str], str]
    want_x: bool | None = None   # IDs: must the check character be X (or a digit)?
    length: int | None = None    # cards: 16 or 19 digits


@dataclass
class NameForm:
    name: str
    length: int
    compound: bool = False
    pad: str = ""                # 2-char names padded by clerks: 张　三, 张 三


@dataclass
class Spec:
    file: str
    category: str
    title: str
    upload_name: str = ""
    planted: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"file": self.file, "upload_name": self.upload_name or self.file,
                "category": self.category, "title": self.title, "planted": self.planted}


# ---------------------------------------------------------------- form families

def _sep_id(sep: str) -> Callable[[str], str]:
    return lambda v: v[:6] + sep + v[6:14] + sep + v[14:]


def _sep_mobile(sep: str) -> Callable[[str], str]:
    return lambda v: v[:3] + sep + v[3:7] + sep + v[7:]


def _groups(v: str, sep: str, size: int = 4) -> str:
    return sep.join(v[i:i + size] for i in range(0, len(v), size))


def id_text_forms() -> list[Form]:
    """Resident ID (18) written as text, every separator and decoration seen in the wild."""
    return [
        Form("id18 plain", lambda v: v),
        Form("id18 lower-case x", lambda v: v.lower(), want_x=True),
        Form("id18 full-width digits and Ｘ", lambda v: v.translate(FULLWIDTH), want_x=True),
        Form("id18 spaces 6-8-4", _sep_id(" ")),
        Form("id18 ASCII dashes 6-8-4", _sep_id("-")),
        Form("id18 dots 6-8-4", _sep_id(".")),
        Form("id18 U+2010 hyphen 6-8-4", _sep_id("\u2010")),
        Form("id18 U+2011 non-breaking hyphen 6-8-4", _sep_id("\u2011")),
        Form("id18 U+2013 en dash 6-8-4", _sep_id("\u2013")),
        Form("id18 U+2014 em dash 6-8-4", _sep_id("\u2014")),
        Form("id18 U+2212 minus 6-8-4", _sep_id("\u2212")),
        Form("id18 NBSP 6-8-4", _sep_id("\u00a0")),
        Form("id18 U+3000 ideographic space 6-8-4", _sep_id("\u3000")),
        Form("id18 U+200B zero-width space 6-8-4", _sep_id("\u200b")),
        Form("id18 U+2060 word joiner 6-8-4", _sep_id("\u2060")),
        Form("id18 line break \\n inside the cell", lambda v: v[:6] + "\n" + v[6:]),
        Form("id18 line break \\r\\n inside the cell", lambda v: v[:10] + "\r\n" + v[10:]),
        Form("id18 parentheses around region and last groups (RRRRRR)YYYYMMDD(SSSC)",
             lambda v: "(" + v[:6] + ")" + v[6:14] + "(" + v[14:] + ")", want_x=True),
        Form("id18 glued after ASCII letters ID", lambda v: "ID" + v),
        Form("id18 after label 身份证号：", lambda v: "身份证号：" + v),
    ]


def mobile_text_forms() -> list[Form]:
    """Mainland mobile written as text: separators, prefixes, labels, full width."""
    fw = lambda s: s.translate(FULLWIDTH)
    return [
        Form("mobile plain", lambda v: v),
        Form("mobile 3-4-4 spaces", _sep_mobile(" ")),
        Form("mobile 3-4-4 ASCII dashes", _sep_mobile("-")),
        Form("mobile 3-4-4 slashes", _sep_mobile("/")),
        Form("mobile 3-4-4 underscores", _sep_mobile("_")),
        Form("mobile 3-4-4 with U+2013 en dash", _sep_mobile("\u2013")),
        Form("mobile 3-4-4 with U+2212 minus", _sep_mobile("\u2212")),
        Form("mobile U+2060 word joiner between digits", lambda v: "\u2060".join(v)),
        Form("mobile parentheses around the first 3 digits (NNN)NNNN NNNN", lambda v: "(" + v[:3] + ")" + v[3:7] + " " + v[7:]),
        Form("mobile full-width digits with U+3000 spaces",
             lambda v: fw(v[:3]) + "\u3000" + fw(v[3:7]) + "\u3000" + fw(v[7:])),
        Form("mobile +86 prefix and space", lambda v: "+86 " + v),
        Form("mobile 86 prefix glued", lambda v: "86" + v),
        Form("mobile 0086 prefix glued", lambda v: "0086" + v),
        Form("mobile leading 0", lambda v: "0" + v),
        Form("mobile after Tel", lambda v: "Tel" + v),
        Form("mobile after Tel:", lambda v: "Tel:" + v),
        Form("mobile after 电话:", lambda v: "电话:" + v),
        Form("mobile followed directly by a letter", lambda v: v + "a"),
    ]


def card_text_forms() -> list[Form]:
    """UnionPay (BIN 62) card numbers, 16 and 19 digits, as clerks type them."""
    fw = lambda s: s.translate(FULLWIDTH)
    return [
        Form("card16 plain", lambda v: v, length=16),
        Form("card19 plain", lambda v: v, length=19),
        Form("card16 4-4-4-4 spaces", lambda v: _groups(v, " "), length=16),
        Form("card19 groups of 4 spaces", lambda v: _groups(v, " "), length=19),
        Form("card16 4-4-4-4 dashes", lambda v: _groups(v, "-"), length=16),
        Form("card19 groups of 4 dashes", lambda v: _groups(v, "-"), length=19),
        Form("card16 full-width digits with spaces", lambda v: _groups(fw(v), " "), length=16),
        Form("card19 full-width digits with U+3000 spaces", lambda v: _groups(fw(v), "\u3000"), length=19),
    ]


def name_forms() -> list[NameForm]:
    """Person names: 2-4 characters, compound surnames, padded 2-character names."""
    return [
        NameForm("name 3 chars", 3),
        NameForm("name 2 chars", 2),
        NameForm("name 3 chars compound surname", 3, compound=True),
        NameForm("name 2 chars padded with U+3000 (张　三)", 2, pad="\u3000"),
        NameForm("name 4 chars compound surname", 4, compound=True),
        NameForm("name 3 chars", 3),
        NameForm("name 2 chars padded with a space (张 三)", 2, pad=" "),
        NameForm("name 2 chars", 2),
    ]


def gbk_ok(text: str) -> bool:
    try:
        text.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False


def gbk_forms(forms: list) -> list:
    sample = {"id": "11010519491231002X", "mobile": "13912345678", "card": "6212345678901234567"}
    out = []
    for f in forms:
        if isinstance(f, NameForm):
            ok = gbk_ok(f.pad)
        else:
            ok = all(gbk_ok(f.render(s)) for s in sample.values())
        if ok:
            out.append(f)
    return out


# ---------------------------------------------------------------- value factory

class Planter:
    """Random but deterministic identifiers; refuses any value that is equal to,
    a substring of, or contains a value already planted."""

    def __init__(self, seed: int, outdir: str):
        self.rng = random.Random(seed)
        self.outdir = outdir
        self.digits: list[str] = []
        self.digit_set: set[str] = set()
        self.names: list[str] = []
        self.also: set[str] = set()
        self.specs: list[Spec] = []
        self.ordinary_text = "".join(TOWNS + VILLAGES + MONTHS + REMARKS)

    # -- uniqueness
    def _claim(self, value: str) -> bool:
        if value in self.digit_set:
            return False
        for old in self.digits:
            if value in old or old in value:
                return False
        self.digits.append(value)
        self.digit_set.add(value)
        return True

    def _claim_name(self, name: str) -> bool:
        if name in self.ordinary_text:
            return False
        for old in self.names:
            if name in old or old in name:
                return False
            # a masked name (张*丰 -> 张丰, 欧**娜 -> 欧娜) must never equal another name
            if len(old) > 2 and name == old[0] + old[-1]:
                return False
            if len(name) > 2 and old == name[0] + name[-1]:
                return False
        self.names.append(name)
        return True

    # -- identifiers
    def _id17(self, region: str) -> str:
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 64))
        return region + birth.strftime("%Y%m%d") + "%03d" % self.rng.randrange(1000)

    def id18(self, want_x: bool | None = None, region: str | None = None) -> str:
        while True:
            s17 = self._id17(region or self.rng.choice(REGIONS))
            c = id_check_char(s17)
            if want_x is not None and (c == "X") != want_x:
                continue
            if self._claim(s17 + c):
                return s17 + c

    def id18_bad_checksum(self) -> str:
        while True:
            s17 = self._id17(self.rng.choice(REGIONS))
            good = id_check_char(s17)
            bad = self.rng.choice([d for d in "0123456789" if d != good])
            if self._claim(s17 + bad):
                return s17 + bad

    def id15(self) -> str:
        while True:
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 59))
            v = self.rng.choice(REGIONS) + birth.strftime("%y%m%d") + "%03d" % self.rng.randrange(1000)
            if self._claim(v):
                return v

    def mobile(self) -> str:
        while True:
            v = "1" + self.rng.choice("3456789") + "".join(self.rng.choice("0123456789") for _ in range(9))
            if self._claim(v):
                return v

    def card(self, length: int) -> str:
        while True:
            body = "62" + "".join(self.rng.choice("0123456789") for _ in range(length - 3))
            v = body + luhn_check_digit(body)
            if self._claim(v):
                return v

    def name(self, length: int, compound: bool = False) -> str:
        while True:
            if compound:
                sur = self.rng.choice(COMPOUND_SURNAMES)
            else:
                sur = self.rng.choice(SURNAMES)
            given = "".join(self.rng.sample(GIVEN, length - len(sur)))
            if self._claim_name(sur + given):
                return sur + given

    # -- files and manifest
    def new(self, file: str, category: str, title: str, upload_name: str = "") -> Spec:
        spec = Spec(file, category, title, upload_name)
        self.specs.append(spec)
        return spec

    def path(self, spec: Spec) -> str:
        return os.path.join(self.outdir, spec.file)

    @staticmethod
    def plant(spec: Spec, kind: str, value: str, form: str, where: str, also: list | None = None):
        entry = {"kind": kind, "value": value, "form": form, "where": where}
        if also:
            entry["also"] = also
        spec.planted.append(entry)

    # -- renderers that plant as they go
    def render_id(self, spec, form: Form, where="cell") -> str:
        v = self.id18(form.want_x)
        self.plant(spec, "id18", v, form.name, where)
        return form.render(v)

    def render_mobile(self, spec, form: Form, where="cell") -> str:
        v = self.mobile()
        self.plant(spec, "mobile", v, form.name, where)
        return form.render(v)

    def render_card(self, spec, form: Form, where="cell") -> str:
        v = self.card(form.length or 16)
        self.plant(spec, "card", v, form.name, where)
        return form.render(v)

    def render_name(self, spec, form: NameForm, where="cell", header="") -> str:
        v = self.name(form.length, form.compound)
        label = form.name + (f" under header '{header}'" if header else "")
        self.plant(spec, "name", v, label, where)
        if form.pad and len(v) == 2:
            return v[0] + form.pad + v[1]
        return v

    # -- ordinary public columns
    def amount(self) -> float:
        # 200.00-999.50: first digit 2-9, so an amount glued to a neighbour never
        # starts a mobile-looking run
        return self.rng.randrange(200, 1000) + self.rng.choice([0.0, 0.5])

    def rows(self, spec: Spec, cols: list, n: int, offset: int = 0, numeric: bool = False,
             default_where: str = "cell") -> tuple[list, list]:
        """Build a table of n rows. cols: (header, kind[, forms[, where]]).
        kinds: seq, town, village, household, amount, month, remark, const
        (forms = the value), id, mobile, card, name (forms = list of forms,
        cycled from offset), names_multi, mobile_int, mobile_float (forms =
        the form text).  numeric: ordinary numbers as int/float, not text."""
        header = [c[0] for c in cols]
        rows = []
        for i in range(n):
            row = []
            for col in cols:
                h, kind = col[0], col[1]
                forms = col[2] if len(col) > 2 else None
                where = col[3] if len(col) > 3 else default_where
                k = (i + offset) % len(forms) if isinstance(forms, list) and forms else 0
                if kind == "seq":
                    row.append(i + 1 if numeric else str(i + 1))
                elif kind == "town":
                    row.append(TOWNS[(i + offset) % len(TOWNS)])
                elif kind == "village":
                    row.append(VILLAGES[(i * 3 + offset) % len(VILLAGES)])
                elif kind == "household":
                    hh = self.rng.randrange(1, 7)
                    row.append(hh if numeric else str(hh))
                elif kind == "amount":
                    a = self.amount()
                    row.append(a if numeric else "%.2f" % a)
                elif kind == "month":
                    row.append(MONTHS[(i // 7) % len(MONTHS)])
                elif kind == "remark":
                    row.append(REMARKS[(i + offset) % len(REMARKS)])
                elif kind == "const":
                    row.append(forms)
                elif kind == "id":
                    row.append(self.render_id(spec, forms[k], where))
                elif kind == "mobile":
                    row.append(self.render_mobile(spec, forms[k], where))
                elif kind == "card":
                    row.append(self.render_card(spec, forms[k], where))
                elif kind == "name":
                    row.append(self.render_name(spec, forms[k], where, h))
                elif kind == "names_multi":
                    members = [self.render_name(spec, NameForm("name %d chars, one of several names in one "
                                                               "cell separated by 、" % L, L), where, h)
                               for L in (2, 3)[: 1 + i % 2] + (3,)]
                    row.append("、".join(members))
                elif kind == "mobile_int":
                    v = self.mobile()
                    self.plant(spec, "mobile", v, forms or "mobile as integer cell", "numeric")
                    row.append(int(v))
                elif kind == "mobile_float":
                    v = self.mobile()
                    self.plant(spec, "mobile", v, forms or "mobile as float cell (trailing .0)", "numeric")
                    row.append(float(v))
                else:
                    raise ValueError(kind)
            rows.append(row)
        return header, rows


# ---------------------------------------------------------------- writers

def write_delimited(path: str, pre: list, header: list, rows: list, encoding: str = "utf-8",
                    delimiter: str = ","):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for p in pre:
        w.writerow(p)
    w.writerow(header)
    w.writerows(rows)
    with open(path, "wb") as f:
        f.write(buf.getvalue().encode(encoding))


@dataclass
class Sheet:
    name: str
    header: list
    rows: list
    pre: list = field(default_factory=list)
    state: str = "visible"            # visible | hidden | veryHidden
    hidden_cols: list = field(default_factory=list)   # 0-based column indexes
    hidden_rows: list = field(default_factory=list)   # 0-based data-row indexes
    comments: list = field(default_factory=list)      # (data row or -1 for header, col, text, author)


def write_xlsx(path: str, sheets: list[Sheet]):
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.utils import get_column_letter
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sh in sheets:
        ws = wb.create_sheet(sh.name)
        ws.sheet_state = sh.state
        for p in sh.pre:
            ws.append(p)
        ws.append(sh.header)
        base = len(sh.pre) + 2          # 1-based row of the first data row
        for r in sh.rows:
            ws.append(r)
        for c in sh.hidden_cols:
            ws.column_dimensions[get_column_letter(c + 1)].hidden = True
        for r in sh.hidden_rows:
            ws.row_dimensions[base + r].hidden = True
        for r, c, text, author in sh.comments:
            ws.cell(row=base + r, column=c + 1).comment = Comment(text, author)
    stamp = dt.datetime(2024, 6, 30, 9, 0, 0)
    wb.properties.created = wb.properties.modified = stamp
    buf = io.BytesIO()
    wb.save(buf)
    # Re-zip with fixed entry times (and openpyxl's save-time "modified" pinned)
    # so that a seed gives byte-identical files.
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-06-30T09:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6]), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def write_xls(path: str, sheets: list[Sheet]):
    import xlwt
    wb = xlwt.Workbook(encoding="utf-8")
    for sh in sheets:
        ws = wb.add_sheet(sh.name)
        if sh.state != "visible":
            ws.visibility = 1 if sh.state == "hidden" else 2
        r = 0
        for p in sh.pre + [sh.header] + sh.rows:
            for c, v in enumerate(p):
                ws.write(r, c, v)
            r += 1
        for c in sh.hidden_cols:
            ws.col(c).hidden = 1
        for hr in sh.hidden_rows:
            ws.row(len(sh.pre) + 1 + hr).hidden = 1
    wb.save(path)


def write_parquet(path: str, header: list, rows: list, types: dict):
    import pyarrow as pa
    import pyarrow.parquet as pq
    fields = [pa.field(h, types.get(h, pa.string())) for h in header]
    cols = [pa.array([r[i] for r in rows], type=f.type) for i, f in enumerate(fields)]
    pq.write_table(pa.Table.from_arrays(cols, schema=pa.schema(fields)), path)


def excel_float_strings(f: float) -> list[str]:
    """How an 18-digit ID destroyed by Excel is written: the file's own number
    text (openpyxl: %.16g), Python's repr, and Excel's General display."""
    out = []
    for s in ("%.16g" % f, repr(f), "%.6G" % f):
        s = s.upper()
        if "E" in s and s not in out:
            out.append(s)
    return out


# ---------------------------------------------------------------- file builders

def gen_rosters(p: Planter):
    """Seven relief/subsidy/penalty rosters, one per file format, each cycling
    through every ID and mobile text form (GBK: the forms GBK can encode)."""
    IDF, MF, CF, NF = id_text_forms(), mobile_text_forms(), card_text_forms(), name_forms()
    n = max(len(IDF), len(MF))
    std = lambda *mid: ([("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village")] + list(mid)
                        + [("发放月份", "month"), ("备注", "remark")])

    s = p.new("r01_dibao_utf8.csv", "social_assistance", "2024年6月城关镇城乡低保发放名册")
    h, rows = p.rows(s, std(("户主姓名", "name", NF), ("身份证号", "id", IDF), ("联系电话", "mobile", MF),
                            ("家庭人口", "household"), ("救助金额(元)", "amount")), n, 0)
    write_delimited(p.path(s), [[s.title], ["单位：元"]], h, rows)

    s = p.new("r02_linshi_bom.csv", "social_assistance", "2024年第二季度临时救助对象名单")
    up = p.mobile()
    s.upload_name = "联系人 " + _sep_mobile("-")(up) + ".csv"
    p.plant(s, "mobile", up, "mobile 3-4-4 dashes in the upload file name", "file_name")
    h, rows = p.rows(s, std(("受助人", "name", NF), ("证件号码", "id", IDF), ("手机号码", "mobile", MF),
                            ("救助金额(元)", "amount")), n, 5)
    write_delimited(p.path(s), [], h, rows, encoding="utf-8-sig")

    s = p.new("r03_tekun_gbk.csv", "social_assistance", "特困人员救助供养名册")
    g_id, g_mob, g_name = gbk_forms(IDF), gbk_forms(MF), gbk_forms(NF)
    h, rows = p.rows(s, std(("户主", "name", g_name), ("公民身份号码", "id", g_id), ("联系方式", "mobile", g_mob),
                            ("救助金额(元)", "amount")), max(len(g_id), len(g_mob)), 3)
    write_delimited(p.path(s), [[s.title], ["单位：元"]], h, rows, encoding="gbk")

    s = p.new("r04_gengdi.tsv", "subsidy", "2024年耕地地力保护补贴发放花名册")
    h, rows = p.rows(s, std(("领取人", "name", NF), ("身份证号码", "id", IDF), ("银行账号", "card", CF),
                            ("联系电话", "mobile", MF), ("补贴金额(元)", "amount")), n, 9)
    write_delimited(p.path(s), [], h, rows, delimiter="\t")

    s = p.new("r05_gaoling.xlsx", "subsidy", "2024年高龄津贴发放明细")
    up = p.mobile()
    s.upload_name = "高龄津贴_手机" + up + ".xlsx"
    p.plant(s, "mobile", up, "mobile plain in the upload file name", "file_name")
    h, rows = p.rows(s, std(("收款人", "name", NF), ("身份证号", "id", IDF), ("手机", "mobile", MF),
                            ("备用电话", "mobile_int", "mobile as numeric XLSX cell (integer)"),
                            ("补贴金额(元)", "amount")), n, 13, numeric=True)
    write_xlsx(p.path(s), [Sheet("高龄津贴", h, rows, pre=[[s.title], ["单位：元"]])])

    s = p.new("r06_zhengdi.xls", "land_compensation", "东城街道征地补偿款发放明细表")
    h, rows = p.rows(s, std(("被征收人", "name", NF), ("身份证号", "id", IDF), ("联系电话", "mobile", MF),
                            ("银行卡号", "card", CF),
                            ("备用电话", "mobile_int", "mobile as numeric XLS cell"),
                            ("补偿金额(元)", "amount")), n, 7, numeric=True)
    write_xls(p.path(s), [Sheet("征地补偿", h, rows, pre=[[s.title], ["单位：元"]])])

    import pyarrow as pa
    s = p.new("r07_chufa.parquet", "penalty", "行政处罚决定信息公示")
    h, rows = p.rows(s, std(("当事人", "name", NF), ("身份证号", "id", IDF), ("联系电话", "mobile", MF),
                            ("手机", "mobile_float", "mobile as Float64 Parquet value (trailing .0)"),
                            ("备用电话", "mobile_int", "mobile as Int64 Parquet value"),
                            ("罚款金额(元)", "amount")), n, 11, numeric=True)
    write_parquet(p.path(s), h, rows, {"序号": pa.int64(), "村(社区)": pa.large_string(),
                                       "身份证号": pa.large_string(), "手机": pa.float64(),
                                       "备用电话": pa.int64(), "罚款金额(元)": pa.float64(),
                                       "备注": pa.large_string()})


def gen_cards(p: Planter):
    """UnionPay cards under 银行账号 / 卡号 headers and inside 备注 free text."""
    CF, IDF, NF = card_text_forms(), id_text_forms(), name_forms()
    s = p.new("c01_zhengdi_card.csv", "land_compensation", "河口镇征地补偿款发放花名册")
    h, rows = p.rows(s, [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village"),
                         ("被征收人", "name", NF), ("身份证号", "id", IDF), ("银行账号", "card", CF),
                         ("补偿金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")],
                     len(CF), 2)
    for i, row in enumerate(rows):           # every other 备注 names a card in a sentence
        if i % 2 == 0:
            f = CF[(i + 3) % len(CF)]
            row[-1] = "已发放至卡号" + p.render_card(s, Form(f.name + " in 备注 sentence", f.render, length=f.length),
                                               "free_text") + "，请核对"
    write_delimited(p.path(s), [], h, rows)

    s = p.new("c02_butie_card.xlsx", "subsidy", "2024年种粮一次性补贴发放表")
    h, rows = p.rows(s, [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village"),
                         ("申请人", "name", NF), ("卡号", "card", CF), ("补贴金额(元)", "amount"),
                         ("发放月份", "month"), ("备注", "remark")], len(CF), 5, numeric=True)
    write_xlsx(p.path(s), [Sheet("Sheet1", h, rows)])


def gen_id_special(p: Planter):
    """Split IDs, 15-digit IDs, bad checksums, Excel-mangled IDs (CSV text and XLSX floats)."""
    NF = name_forms()
    s = p.new("s01_id_special.csv", "social_assistance", "2024年5月城乡低保动态调整名单")
    h, rows = p.rows(s, [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village"),
                         ("姓名", "name", NF), ("证件号码", "const", ""), ("证件号码(续)", "const", ""),
                         ("身份证号", "const", ""), ("救助金额(元)", "amount"), ("发放月份", "month"),
                         ("备注", "remark")], 9, 1)
    mangled = iter(MANGLED_CSV_REGIONS)
    for i, row in enumerate(rows):
        v = p.id18()
        row[4], row[5] = v[:12], v[12:]
        p.plant(s, "id18", v, "id18 split across two adjacent columns (first 12 | last 6)", "split_columns")
        if i % 3 == 0:
            v = p.id15()
            row[6] = v
            p.plant(s, "id15", v, "id15 under header 身份证号", "cell")
        elif i % 3 == 1:
            v = p.id18_bad_checksum()
            row[6] = v
            p.plant(s, "id18", v, "id18 with a bad checksum under header 身份证号", "cell")
        else:
            region = next(mangled)
            text = "%s.%sE+17" % (region[0], region[1:])
            value = "%d" % float(text)
            if text in p.also or not p._claim(value):
                raise RuntimeError("mangled ID %s is not unique" % text)
            p.also.add(text)
            row[6] = text
            p.plant(s, "id18_mangled", value, "Excel-mangled ID as CSV text %s under 身份证号" % text,
                    "cell", also=[text])
    write_delimited(p.path(s), [], h, rows)

    s = p.new("s02_numeric.xlsx", "social_assistance", "2024年4月临时救助发放表")
    h, rows = p.rows(s, [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village"),
                         ("救助对象", "name", NF), ("证件号码", "const", ""), ("证件号码(续)", "const", ""),
                         ("身份证号", "const", ""),
                         ("手机", "mobile_int", "mobile as numeric XLSX cell (integer)"),
                         ("联系电话", "mobile_float", "mobile as numeric XLSX cell (float, trailing .0)"),
                         ("救助金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")],
                     len(MANGLED_XLSX_REGIONS), 4, numeric=True)
    for i, row in enumerate(rows):
        v = p.id18()
        row[4], row[5] = v[:14], v[14:]
        p.plant(s, "id18", v, "id18 split across two adjacent XLSX columns (first 14 | last 4)",
                "split_columns")
        intact = p.id18(want_x=False, region=MANGLED_XLSX_REGIONS[i])   # reserved, never written
        f = float(intact)
        value = "%d" % f
        also = excel_float_strings(f)
        if set(also) & p.also or not p._claim(value):
            raise RuntimeError("mangled ID %s is not unique" % value)
        p.also.update(also)
        row[6] = f
        p.plant(s, "id18_mangled", value, "18-digit ID stored as an XLSX float (%s)" % also[0],
                "numeric", also=also)
    write_xlsx(p.path(s), [Sheet("临时救助", h, rows, pre=[[s.title], ["单位：元"]])])


def gen_free_text(p: Planter):
    """IDs, mobiles, cards and names inside 备注 sentences."""
    IDF, MF, CF = id_text_forms(), mobile_text_forms(), card_text_forms()
    s = p.new("t01_beizhu.csv", "social_assistance", "2024年6月城关镇特困供养金发放表")
    ft = "free_text"

    def fn(form: Form, suffix=" in 备注 sentence") -> Form:
        return Form(form.name + suffix, form.render, form.want_x, form.length)

    sentences = [
        lambda: "户主" + p.render_name(s, NameForm("name 3 chars in 备注 sentence", 3), ft) + "已故，由家属代领",
        lambda: "联系电话" + p.render_mobile(s, fn(MF[1]), ft),
        lambda: "身份证号：" + p.render_id(s, fn(IDF[3]), ft) + "，已核对",
        lambda: "已发放至卡号" + p.render_card(s, fn(CF[2]), ft) + "，请核对",
        lambda: "申请人" + p.render_name(s, NameForm("name 2 chars in 备注 sentence", 2), ft)
                + "，电话：" + p.render_mobile(s, fn(MF[2]), ft),
        lambda: "银行卡" + p.render_card(s, fn(CF[1]), ft) + "已冻结，改发现金",
        lambda: "原证件" + p.render_id(s, fn(IDF[1]), ft) + "已换发新证",
        lambda: "紧急联系人 " + p.render_name(s, NameForm("name 4 chars compound surname in 备注 sentence", 4, True), ft)
                + " " + p.render_mobile(s, fn(MF[10]), ft),
        lambda: "代领人" + p.render_name(s, NameForm("name 3 chars compound surname in 备注 sentence", 3, True), ft)
                + "（身份证" + p.render_id(s, fn(IDF[4]), ft) + "）",
        lambda: "咨询 " + p.render_mobile(s, fn(MF[9]), ft) + "，工作日受理",
    ]
    h, rows = p.rows(s, [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village"),
                         ("供养金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")],
                     len(sentences), 0)
    for row, make in zip(rows, sentences):
        row[-1] = make()
    write_delimited(p.path(s), [[s.title]], h, rows)


def gen_metadata(p: Planter):
    """Identifiers in headers, sheet names, comments, Parquet field names, upload names."""
    NF = name_forms()
    std = [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village")]
    tail = [("救助金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")]

    # CSV headers carrying a mobile and an ID
    s = p.new("m01_header.csv", "social_assistance", "2024年6月东城街道低保金发放名册")
    m1, m2, i1 = p.mobile(), p.mobile(), p.id18()
    p.plant(s, "mobile", m1, "mobile plain glued after 联系人 in a CSV header", "header")
    p.plant(s, "mobile", m2, "mobile 3-4-4 dashes in a CSV header", "header")
    p.plant(s, "id18", i1, "id18 plain glued in a CSV header 身份证…", "header")
    h, rows = p.rows(s, std + [("姓名", "name", NF), ("联系人" + m1, "const", "已联系"),
                               ("经办人电话 " + _sep_mobile("-")(m2), "const", "是"),
                               ("身份证" + i1, "const", "已核验")] + tail, 8, 2)
    write_delimited(p.path(s), [], h, rows)

    # XLSX: sheet names (visible), headers, comments, comment author; upload name with an ID
    s = p.new("m02_meta.xlsx", "social_assistance", "2024年6月西城街道低保发放名册")
    up = p.id18()
    s.upload_name = "低保名册_" + up + ".xlsx"
    p.plant(s, "id18", up, "id18 plain in the upload file name 低保名册_….xlsx", "file_name")
    sid, smob = p.id18(), p.mobile()
    p.plant(s, "id18", sid, "id18 in a visible XLSX sheet name", "sheet_name")
    p.plant(s, "mobile", smob, "mobile in a visible XLSX sheet name", "sheet_name")
    hid, hmob = p.id18(), p.mobile()
    p.plant(s, "id18", hid, "id18 glued in an XLSX header", "header")
    p.plant(s, "mobile", hmob, "mobile 3-4-4 spaces in an XLSX header", "header")
    h, rows = p.rows(s, std + [("姓名", "name", NF), ("身份证号" + hid, "const", "已核验"),
                               ("联系人 " + _sep_mobile(" ")(hmob), "const", "已联系")] + tail, 8, 4,
                     numeric=True)
    cid, cmob = p.id18(), p.mobile()
    cname, author = p.name(3), p.name(2)
    p.plant(s, "id18", cid, "id18 spaces 6-8-4 in an XLSX cell comment", "comment")
    p.plant(s, "mobile", cmob, "mobile 3-4-4 dashes in an XLSX cell comment", "comment")
    p.plant(s, "name", cname, "name 3 chars in an XLSX cell comment", "comment")
    p.plant(s, "name", author, "name 2 chars as XLSX comment author", "comment")
    comments = [(0, 3, "核对：身份证 " + _sep_id(" ")(cid), author),
                (1, 3, "经办人手机 " + _sep_mobile("-")(cmob), author),
                (2, 3, "户主" + cname + "已核实", author)]
    write_xlsx(p.path(s), [Sheet("低保" + sid, h, rows, comments=comments),
                           Sheet("联系" + smob, ["序号", "备注"], [[1, "经办人"]])])

    # Parquet field names
    import pyarrow as pa
    s = p.new("m03_fields.parquet", "other", "2024年社区网格员名单")
    fm, fi, fname = p.mobile(), p.id18(), p.name(3)
    p.plant(s, "mobile", fm, "mobile glued in a Parquet field name", "field_name")
    p.plant(s, "id18", fi, "id18 glued in a Parquet field name", "field_name")
    p.plant(s, "name", fname, "name 3 chars glued in a Parquet field name", "field_name")
    h, rows = p.rows(s, std + [("Name", "name", NF), ("联系人" + fm, "const", "已联系"),
                               ("身份证" + fi, "const", "已核验"), ("经办人" + fname, "const", "是"),
                               ("救助金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")],
                     8, 6, numeric=True)
    write_parquet(p.path(s), h, rows, {"序号": pa.int64(), "Name": pa.large_string(),
                                       "救助金额(元)": pa.float64()})


def gen_hidden(p: Planter):
    """Hidden XLSX sheet, column and rows; hidden XLS sheets (one named with an ID) and column."""
    NF = name_forms()
    std = [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village")]
    tail = [("救助金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")]
    plain_id = Form("id18 plain", lambda v: v)
    plain_mob = Form("mobile plain", lambda v: v)

    s = p.new("h01_hidden.xlsx", "social_assistance", "2024年6月青山乡低保发放名册")
    h, rows = p.rows(s, std + [("姓名", "name", NF), ("身份证号", "const", ""), ("联系电话", "const", "")] + tail,
                     12, 3, numeric=True)
    for i, row in enumerate(rows):
        hidden_row = i >= 8
        row[4] = p.render_id(s, Form("id18 plain in a hidden XLSX row" if hidden_row else "id18 plain",
                                     plain_id.render), "hidden_row" if hidden_row else "cell")
        row[5] = p.render_mobile(s, Form("mobile 3-4-4 spaces in a hidden XLSX column", _sep_mobile(" ")),
                                 "hidden_column")
    hs_h, hs_rows = p.rows(s, [("序号", "seq"), ("姓名", "name", NF),
                               ("身份证号", "id", [Form("id18 plain in a hidden XLSX sheet", plain_id.render)]),
                               ("手机", "mobile", [Form("mobile plain in a hidden XLSX sheet", plain_mob.render)])],
                           5, 0, default_where="hidden_sheet")
    hname = p.id18()
    p.plant(s, "id18", hname, "id18 in a hidden XLSX sheet's name", "sheet_name")
    write_xlsx(p.path(s), [Sheet("低保名册", h, rows, pre=[[s.title]], hidden_cols=[5], hidden_rows=[8, 9, 10, 11]),
                           Sheet("Sheet2", hs_h, hs_rows, state="hidden"),
                           Sheet("备份" + hname, ["说明"], [["旧版"]], state="veryHidden")])

    s = p.new("h02_hidden.xls", "social_assistance", "2024年5月白水镇临时救助名单")
    h, rows = p.rows(s, std + [("受助人", "name", NF),
                               ("联系电话", "mobile", [Form("mobile plain in a hidden XLS column", plain_mob.render)],
                                "hidden_column")] + tail, 8, 1, numeric=True)
    hs_h, hs_rows = p.rows(s, [("序号", "seq"), ("姓名", "name", NF),
                               ("身份证号", "id", [Form("id18 plain in a hidden XLS sheet", plain_id.render),
                                                  Form("id18 spaces 6-8-4 in a hidden XLS sheet", _sep_id(" "))]),
                               ("手机", "mobile", [Form("mobile 3-4-4 dashes in a hidden XLS sheet", _sep_mobile("-"))])],
                           6, 0, default_where="hidden_sheet")
    hname = p.id18()
    p.plant(s, "id18", hname, "id18 in a hidden XLS sheet's name", "sheet_name")
    write_xls(p.path(s), [Sheet("临时救助", h, rows, pre=[[s.title]], hidden_cols=[4]),
                          Sheet("Sheet2", hs_h, hs_rows, state="hidden"),
                          Sheet("备份" + hname, ["说明"], [["旧版"]], state="hidden")])


def gen_names(p: Planter):
    """Name lists under every person header, in social_assistance and other
    categories, plus value-only columns (人员, 列1) and multi-name cells."""
    import pyarrow as pa
    NF = name_forms()
    std = [("序号", "seq"), ("乡镇(街道)", "town"), ("村(社区)", "village")]
    tail = [("救助金额(元)", "amount"), ("发放月份", "month"), ("备注", "remark")]
    n = 10

    s = p.new("n01_names.csv", "social_assistance", "城乡居民最低生活保障对象公示")
    h, rows = p.rows(s, std + [("姓名", "name", NF), ("家庭成员", "names_multi"), ("申请人", "name", NF)] + tail, n, 0)
    write_delimited(p.path(s), [[s.title], ["单位：元"]], h, rows)

    s = p.new("n02_names_other.csv", "other", "2024年志愿者服务登记表")
    up = p.name(3)
    s.upload_name = up + "等志愿者名单.csv"
    p.plant(s, "name", up, "name 3 chars in the upload file name", "file_name")
    h, rows = p.rows(s, std + [("名字", "name", NF), ("联系人", "name", NF), ("Name", "name", NF)] + tail, n, 1)
    write_delimited(p.path(s), [], h, rows, encoding="utf-8-sig")

    s = p.new("n03_names.xlsx", "social_assistance", "2024年第二季度特困人员名单")
    h, rows = p.rows(s, std + [("户主", "name", NF), ("户主 姓名", "name", NF), ("受助对象", "name", NF)] + tail,
                     n, 2, numeric=True)
    write_xlsx(p.path(s), [Sheet("名单", h, rows, pre=[[s.title]])])

    s = p.new("n04_names_other.xlsx", "other", "2024年社区活动物资领取登记表")
    h, rows = p.rows(s, std + [("救助对象", "name", NF), ("领取人", "name", NF), ("收款人", "name", NF)] + tail,
                     n, 3, numeric=True)
    write_xlsx(p.path(s), [Sheet("Sheet1", h, rows)])

    s = p.new("n05_names.tsv", "social_assistance", "2024年6月临时救助发放名单")
    h, rows = p.rows(s, std + [("姓　名", "name", NF), ("受助人", "name", NF), ("户主姓名", "name", NF)] + tail,
                     n, 4)
    write_delimited(p.path(s), [], h, rows, delimiter="\t")

    s = p.new("n06_names_gbk.csv", "other", "2024年村民代表名单")
    g = gbk_forms(NF)
    h, rows = p.rows(s, std + [("人员", "name", g), ("姓名", "name", g)] + tail, n, 5)
    write_delimited(p.path(s), [], h, rows, encoding="gbk")

    s = p.new("n07_names.parquet", "other", "2024年环境整治参与人员名单")
    h, rows = p.rows(s, std + [("列1", "name", NF), ("Name", "name", NF)] + tail, n, 6, numeric=True)
    write_parquet(p.path(s), h, rows, {"序号": pa.int64(), "列1": pa.large_string(),
                                       "救助金额(元)": pa.float64()})

    s = p.new("n08_names.xls", "social_assistance", "2024年医疗救助对象名单")
    h, rows = p.rows(s, std + [("申请人", "name", NF), ("家庭成员", "names_multi"), ("联系人", "name", NF)] + tail,
                     n, 7, numeric=True)
    write_xls(p.path(s), [Sheet("医疗救助", h, rows)])


def generate(outdir: str, seed: int) -> dict:
    os.makedirs(outdir, exist_ok=True)
    p = Planter(seed, outdir)
    assert not set("".join(GIVEN)) & set(p.ordinary_text), "given-name char in ordinary text"
    for family in (gen_rosters, gen_cards, gen_id_special, gen_free_text, gen_metadata, gen_hidden, gen_names):
        family(p)
    specs = [s.to_json() for s in p.specs]
    # Self-checks: distinct values, no name inside any ordinary string we wrote.
    values = [e["value"] for s in specs for e in s["planted"]]
    assert len(values) == len(set(values)), "duplicate planted value"
    ordinary = "".join(s["title"] for s in specs) + p.ordinary_text
    for e in (e for s in specs for e in s["planted"] if e["kind"] == "name"):
        assert e["value"] not in ordinary, e
    manifest = {"seed": seed, "files": specs}
    with open(os.path.join(outdir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    return manifest


# ==========================================================================
# SCAN: extraction of text units
# ==========================================================================

@dataclass
class Unit:
    text: str
    src: str
    pair: bool = False           # two adjacent cells glued: digit detectors only


PAIR_SEP = "\x1f"                # dropped by both readings; shown as " | " in context
SKIP_EXT = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".woff", ".woff2", ".ttf", ".otf",
            ".eot", ".wasm", ".mp4", ".pdf"}


def cell_str(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return ("%d" % v) if v.is_integer() and abs(v) < 1e20 else repr(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def record_units(records: Iterable[list], src: str) -> Iterator[Unit]:
    for rec in records:
        cells = [cell_str(c) for c in rec]
        for c in cells:
            if c:
                yield Unit(c, src)
        for a, b in zip(cells, cells[1:]):
            if a and b:
                yield Unit(a + PAIR_SEP + b, src, pair=True)


def line_units(text: str, src: str) -> Iterator[Unit]:
    """Every non-blank line, and every two consecutive lines glued (a value
    broken over two lines)."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        yield Unit(line, src)
    for a, b in zip(lines, lines[1:]):
        yield Unit(a + PAIR_SEP + b, src, pair=True)


def decode_text(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    for enc in ("utf-8-sig", "gb18030", "utf-16"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def delimited_units(data: bytes, src: str, ext: str) -> Iterator[Unit]:
    """A CSV line is checked as a record (each cell, each adjacent pair): gluing
    a whole line would glue unrelated numbers (amount + month + ...).  Lines
    are used as such only when the text does not parse as delimited."""
    text = decode_text(data)
    head = text[:4096]
    if ext == ".tsv":
        delim = "\t"
    else:
        delim = max([",", "\t", ";", "|"], key=head.count)
    csv.field_size_limit(sys.maxsize)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    except csv.Error:
        yield from line_units(text, src)
        return
    yield from record_units(records, src)


def _walk_json(o, out: list, records: list):
    if isinstance(o, dict):
        scal = []
        for k, v in o.items():
            out.append(str(k))
            _walk_json(v, out, records)
            if not isinstance(v, (dict, list)):
                scal.append(v)
        if len(scal) > 1:
            records.append(scal)
    elif isinstance(o, list):
        scal = [v for v in o if not isinstance(v, (dict, list))]
        if len(scal) > 1 and len(scal) == len(o):
            records.append(o)
        for v in o:
            _walk_json(v, out, records)
    elif o is not None and not isinstance(o, bool):
        out.append(cell_str(o))


def json_units(data: bytes, src: str) -> Iterator[Unit]:
    text = decode_text(data)
    docs = []
    try:
        docs.append(json.loads(text))
    except ValueError:
        for line in text.splitlines():
            try:
                docs.append(json.loads(line))
            except ValueError:
                if line.strip():
                    yield Unit(line, src)      # not JSON after all: scan as text
    for doc in docs:
        values: list = []
        records: list = []
        _walk_json(doc, values, records)
        for v in values:
            yield Unit(v, src)
        yield from record_units(records, src)


class _HTMLText(HTMLParser):
    INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
              "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)   # entities unescaped in data and attributes
        self.flow: list[str] = []
        self.attrs: list[str] = []
        self.records: list[list[str]] = []
        self.row: list[str] | None = None
        self.in_cell = False

    def handle_starttag(self, tag, attrs):
        for _, v in attrs:
            if v:
                self.attrs.append(v)
        if tag == "tr":
            self.row = []
            self.records.append(self.row)
        elif tag in ("td", "th"):
            if self.row is None:
                self.row = []
                self.records.append(self.row)
            self.row.append("")
            self.in_cell = True
        if tag not in self.INLINE:
            self.flow.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.in_cell = False
        elif tag in ("tr", "table"):
            self.row = None
        if tag not in self.INLINE:
            self.flow.append("\n")

    def handle_data(self, data):
        self.flow.append(data)
        if self.in_cell and self.row:
            self.row[-1] += data


def html_units(data: bytes, src: str) -> Iterator[Unit]:
    parser = _HTMLText()
    parser.feed(decode_text(data))
    parser.close()
    yield from line_units("".join(parser.flow), src)
    for a in parser.attrs:
        yield Unit(a, src)
    yield from record_units(parser.records, src)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _col_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if ch.isalpha():
            n = n * 26 + (ord(ch.upper()) - 64)
        else:
            break
    return max(n - 1, 0)


def xml_units(root, src: str) -> Iterator[Unit]:
    for el in root.iter():
        for v in el.attrib.values():
            if v.strip():
                yield Unit(v, src)
        if el.text and el.text.strip():
            yield Unit(el.text, src)
        if el.tail and el.tail.strip():
            yield Unit(el.tail, src)
        if _local(el.tag) in ("si", "is", "comment", "text"):   # rich text split into runs
            yield Unit("".join(el.itertext()), src)


def zip_units(data: bytes, src: str) -> Iterator[Unit]:
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    sst: list[str] = []
    for n in names:
        if n.lower().endswith("sharedstrings.xml"):
            try:
                root = ET.fromstring(z.read(n))
                sst = ["".join(si.itertext()) for si in root if _local(si.tag) == "si"]
            except ET.ParseError:
                pass
    for n in names:
        if n.endswith("/"):
            continue
        yield Unit(n, src + "!" + n + " [entry name]")
        body = z.read(n)
        msrc = src + "!" + n
        low = n.lower()
        if low.endswith((".xml", ".rels", ".vml")) or body.lstrip()[:1] == b"<" and not low.endswith((".html", ".htm")):
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                yield from line_units(decode_text(body), msrc)
                continue
            yield from xml_units(root, msrc)
            if _local(root.tag) == "worksheet":
                records = []
                for row in root.iter():
                    if _local(row.tag) != "row":
                        continue
                    cells: dict[int, str] = {}
                    for c in row:
                        if _local(c.tag) != "c":
                            continue
                        t = c.get("t")
                        v = next((x for x in c if _local(x.tag) == "v"), None)
                        if t == "s" and v is not None and v.text and v.text.isdigit() and int(v.text) < len(sst):
                            val = sst[int(v.text)]
                        elif t == "inlineStr":
                            val = "".join(c.itertext())
                        else:
                            val = v.text if v is not None and v.text else ""
                        cells[_col_index(c.get("r", "A"))] = val
                    if cells:
                        records.append([cells.get(i, "") for i in range(max(cells) + 1)])
                yield from record_units(records, msrc)
        else:
            yield from file_units(body, msrc, n)


def _printable_chunks(text: str) -> Iterator[str]:
    buf = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "C" and ch not in "\t\n" and cat != "Cf":
            if len(buf) > 1:
                yield "".join(buf)
            buf = []
        else:
            buf.append(ch)
    if len(buf) > 1:
        yield "".join(buf)


def xls_units(data: bytes, src: str) -> Iterator[Unit]:
    try:
        import xlrd
        book = xlrd.open_workbook(file_contents=data)
        for sh in book.sheets():
            ssrc = "%s#%s" % (src, sh.name)
            yield Unit(sh.name, ssrc + " [sheet name]")
            yield from record_units((sh.row_values(r) for r in range(sh.nrows)), ssrc)
    except Exception as e:  # noqa: BLE001 -- still scan the raw bytes
        print("warning: xlrd could not read %s: %s" % (src, e), file=sys.stderr)
    for enc in ("utf-16-le", "latin-1"):
        for chunk in _printable_chunks(data[: len(data) // 2 * 2].decode(enc, "replace")):
            yield Unit(chunk, src + " [raw " + enc + "]")


def parquet_units(data: bytes, src: str) -> Iterator[Unit]:
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(io.BytesIO(data))
    schema = pf.schema_arrow
    for f in schema:
        yield Unit(f.name, src + " [field name]")
        for k, v in (f.metadata or {}).items():
            yield Unit(cell_str(k), src + " [field metadata]")
            yield Unit(cell_str(v), src + " [field metadata]")
    kv = dict(schema.metadata or {})
    kv.update(pf.metadata.metadata or {})
    for k, v in kv.items():
        yield Unit(cell_str(k), src + " [metadata]")
        if k == b"ARROW:schema":
            try:
                raw = base64.b64decode(v)
                for chunk in _printable_chunks(raw.decode("utf-8", "replace")):
                    yield Unit(chunk, src + " [ARROW:schema]")
            except ValueError:
                pass
        else:
            yield from line_units(cell_str(v), src + " [metadata]")
    md = pf.metadata
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for c in range(rg.num_columns):
            col = rg.column(c)
            st = col.statistics
            if st is not None and st.has_min_max:
                for v in (st.min, st.max):
                    yield Unit(cell_str(v), "%s [stats %s]" % (src, col.path_in_schema))
    table = pf.read()
    for row in table.to_pylist():
        values: list = []
        records: list = []
        _walk_json(list(row.values()), values, records)
        for v in values:
            yield Unit(v, src)
        yield from record_units(records, src)


def file_units(data: bytes, src: str, name: str) -> Iterator[Unit]:
    ext = os.path.splitext(name.lower())[1]
    if data[:4] == b"PAR1" or ext == ".parquet":
        yield from parquet_units(data, src)
    elif data[:4] == b"PK\x03\x04":
        yield from zip_units(data, src)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        yield from xls_units(data, src)
    elif data[:2] == b"\x1f\x8b":
        yield from file_units(gzip.decompress(data), src + "!gunzip", name[:-3] if ext == ".gz" else name)
    elif ext in SKIP_EXT:
        return
    elif ext in (".json", ".ndjson", ".jsonl", ".jsonld", ".geojson"):
        yield from json_units(data, src)
    elif ext in (".csv", ".tsv"):
        yield from delimited_units(data, src, ext)
    elif ext in (".html", ".htm", ".xhtml"):
        yield from html_units(data, src)
    else:
        yield from line_units(decode_text(data), src)


# ==========================================================================
# SCAN: detection
# ==========================================================================

@dataclass
class Hit:
    src: str
    kind: str
    value: str
    form: str
    context: str
    where: str = ""
    file: str = ""


class Detector:
    def __init__(self, manifest: dict | None, generic: bool):
        self.generic = generic
        self.entries: list[dict] = []
        self.by_value: dict[str, dict] = {}
        if manifest:
            for f in manifest["files"]:
                for e in f["planted"]:
                    e = dict(e, file=f["file"])
                    self.entries.append(e)
                    self.by_value[e["value"]] = e
                    for a in e.get("also", []):
                        self.by_value[a.upper()] = e
        # Planted values are looked up in sets, per length, at candidate
        # positions only (a regex alternation of 1000 values is slow).
        self.digit_vals = {e["value"] for e in self.entries if e["kind"] != "name"}
        self.digit_lens = sorted({len(v) for v in self.digit_vals})
        self.loose_vals: dict[str, str] = {}
        for e in self.entries:
            if e["kind"] == "name":
                self.loose_vals[re.sub(r"\s", "", e["value"])] = e["value"]
            for a in e.get("also", []):
                self.loose_vals[a.upper()] = a.upper()
        self.loose_lens = sorted({len(v) for v in self.loose_vals})
        firsts = {v[0] for v in self.loose_vals}
        self.loose_first = re.compile("[" + re.escape("".join(sorted(firsts))) + "]") if firsts else None
        self.digit_run = (re.compile("[0-9X]{%d,}" % self.digit_lens[0]) if self.digit_lens else None)

    def _planted_digits(self, can: str) -> Iterator[tuple[str, int]]:
        for m in self.digit_run.finditer(can):
            run, base = m.group(0), m.start()
            for i in range(len(run) - self.digit_lens[0] + 1):
                for n in self.digit_lens:
                    if i + n <= len(run) and run[i:i + n] in self.digit_vals:
                        yield run[i:i + n], base + i

    def _planted_loose(self, lo: str) -> Iterator[tuple[str, int]]:
        for m in self.loose_first.finditer(lo):
            p = m.start()
            for n in self.loose_lens:
                w = lo[p:p + n]
                if w in self.loose_vals:
                    yield self.loose_vals[w], p

    @staticmethod
    def _context(text: str, idx: list[int], start: int, end: int) -> str:
        a, b = idx[start], idx[end - 1] + 1
        ctx = text[max(0, a - 20): b + 20]
        ctx = ctx.replace(PAIR_SEP, " | ")
        return "".join(ch if ch.isprintable() and ch != "\t" else "\\x%02x" % ord(ch) if ord(ch) < 256
                       else "\\u%04x" % ord(ch) for ch in ctx)[:120]

    def _planted_hit(self, unit: Unit, key: str, text, idx, s, e) -> Hit:
        ent = self.by_value[key]
        return Hit(unit.src, ent["kind"], ent["value"], ent["form"], self._context(text, idx, s, e),
                   ent["where"], ent["file"])

    def detect(self, unit: Unit) -> list[Hit]:
        """Hits of one unit; cached by text, since table cells repeat a lot."""
        if len(unit.text) > 200:
            return list(self._detect(unit.text, unit.pair, unit.src))
        return [Hit(unit.src, *h[1:]) for h in self._detect_cached(unit.text, unit.pair)]

    @functools.lru_cache(maxsize=200_000)
    def _detect_cached(self, text: str, pair: bool) -> tuple:
        return tuple((h.src, h.kind, h.value, h.form, h.context, h.where, h.file) for h in self._detect(text, pair))

    def _detect(self, text: str, pair: bool, src: str = "") -> Iterator[Hit]:
        unit = Unit(text, src, pair)
        can, cidx = canonical(text)
        if self.digit_run is not None:
            for v, pos in self._planted_digits(can):
                yield self._planted_hit(unit, v, text, cidx, pos, pos + len(v))
        if not unit.pair:
            lo, lidx = loose(text)
            if self.loose_first is not None:
                for key, pos in self._planted_loose(lo):
                    yield self._planted_hit(unit, key, text, lidx, pos, pos + len(key))
            if self.generic:
                for m in E_NOTATION.finditer(lo):
                    yield self._generic(unit, "id18_mangled", m.group(0), "generic: E-notation number "
                                        "(Excel-mangled ID)", text, lidx, m.start(), m.end())
        if self.generic:
            yield from self._digit_runs(unit, text, can, cidx)
            if not unit.pair and FLOAT_TAIL.search(text):
                t2 = FLOAT_TAIL.sub("", text)
                c2, i2 = canonical(t2)
                yield from self._digit_runs(unit, t2, c2, i2, " (after dropping a float tail .0)")

    def _generic(self, unit, kind, value, form, text, idx, s, e) -> Hit:
        if value in self.by_value:
            return self._planted_hit(unit, value, text, idx, s, e)
        return Hit(unit.src, kind, value, form, self._context(text, idx, s, e))

    def _digit_runs(self, unit, text, can, idx, note="") -> Iterator[Hit]:
        """Generic rules on maximal digit runs.  Two adjacent cells glued (a
        pair unit) are only checked for checksum-valid IDs: gluing amounts
        (1437.99 | 809.10 -> 14379980910) would otherwise look like mobiles.
        A run whose original text is an ordinary number -- it holds a decimal
        with 1-2 fraction digits (650.00) or is grouped in thousands
        (13,912,345,678) -- is not taken for a mobile, card or bad-checksum ID."""
        for m in DIGIT_RUN.finditer(can):
            run, s, e = m.group(0), m.start(), m.end()
            if len(run) == 17 and e < len(can) and can[e] == "X":
                run, e = run + "X", e + 1
            if len(run) == 18 and id18_shape_ok(run) and id_check_char(run[:17]) == run[17]:
                yield self._generic(unit, "id18", run, "generic: checksum-valid 18-char ID" + note,
                                    text, idx, s, e)
                continue
            if unit.pair or len(run) not in CANDIDATE_LENGTHS:
                continue
            if looks_like_amount(text[idx[s]: idx[e - 1] + 1]):
                continue
            if len(run) == 18 and id18_shape_ok(run):
                yield self._generic(unit, "id18_badcheck", run, "generic: 18-char ID with valid region "
                                    "and birth date, bad checksum" + note, text, idx, s, e)
                continue
            if not run.isdigit():
                continue
            for prefix in ("", "86", "0086", "0"):
                if len(run) == 11 + len(prefix) and run.startswith(prefix) and MOBILE_RE.fullmatch(run[len(prefix):]):
                    yield self._generic(unit, "mobile", run[len(prefix):],
                                        "generic: mobile" + (" with prefix " + prefix if prefix else "") + note,
                                        text, idx, s, e)
                    break
            if 16 <= len(run) <= 19 and run.startswith("62") and luhn_ok(run):
                yield self._generic(unit, "card", run, "generic: Luhn-valid UnionPay (62) card" + note,
                                    text, idx, s, e)


DIGIT_RUN = re.compile(r"[0-9]+")
CANDIDATE_LENGTHS = {11, 12, 13, 15, 16, 17, 18, 19}   # mobile (+prefix), card, bad-checksum ID
_DECIMAL = re.compile(r"[0-9][.．][0-9]{1,2}(?![0-9])")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:[,，][0-9]{3})+(?:[.．][0-9]+)?")


def looks_like_amount(span: str) -> bool:
    span = unicodedata.normalize("NFKC", span)
    return bool(_DECIMAL.search(span) or _THOUSANDS.fullmatch(span.strip()))
FLOAT_TAIL = re.compile(r"(?<=[0-9０-９])[.．]0+(?![0-9０-９])")
E_NOTATION = re.compile(r"(?<![0-9.])[1-9](?:\.[0-9]+)?E\+?1[67](?![0-9])")


def iter_paths(paths: list[str], skip: set[str]) -> Iterator[tuple[str, str]]:
    """(path, path relative to the argument it came from)."""
    for p in paths:
        if os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for fn in sorted(filenames):
                    full = os.path.join(dirpath, fn)
                    if os.path.realpath(full) not in skip:
                        yield full, os.path.relpath(full, p)
        elif os.path.realpath(p) not in skip:
            yield p, os.path.basename(p)


def all_units(paths: list[str], skip: set[str]) -> Iterator[Unit]:
    for full, rel in iter_paths(paths, skip):
        yield Unit(rel, full + " [file name]")
        with open(full, "rb") as f:
            data = f.read()
        try:
            yield from file_units(data, full, full)
        except Exception as e:  # noqa: BLE001 -- an unreadable file must not hide the others
            print("warning: could not parse %s (%s); scanning it as text" % (full, e), file=sys.stderr)
            yield from line_units(decode_text(data), full)


def scan(args) -> int:
    manifest = None
    skip: set[str] = set()
    if args.manifest:
        with open(args.manifest, encoding="utf-8") as f:
            manifest = json.load(f)
        skip.add(os.path.realpath(args.manifest))
    if args.expect_all:
        if not manifest:
            sys.exit("--expect-all needs --manifest")
        return expect_all(args, manifest, skip)
    det = Detector(manifest, generic=True)
    seen: dict[tuple, Hit] = {}
    for unit in all_units(args.paths, skip):
        for hit in det.detect(unit):
            base = re.sub(r" \[.*\]$", "", hit.src)
            seen.setdefault((base, hit.kind, hit.value), hit)
    for hit in seen.values():
        if args.json:
            d = {"path": hit.src, "kind": hit.kind, "value": hit.value, "form": hit.form, "context": hit.context}
            if hit.where:
                d.update(where=hit.where, planted_in=hit.file)
            print(json.dumps(d, ensure_ascii=False))
        else:
            print("\t".join([hit.src, hit.kind, hit.value, hit.form, hit.context]))
    print("hits: %d" % len(seen))
    return 1 if seen else 0


def expect_all(args, manifest: dict, skip: set[str]) -> int:
    det = Detector(manifest, generic=False)
    found: set[str] = set()
    units = all_units(args.paths, skip)
    names = (Unit(f.get("upload_name", ""), "manifest upload_name of " + f["file"]) for f in manifest["files"])
    for unit in (u for src in (units, names) for u in src):
        for hit in det.detect(unit):
            found.add(hit.value)
    missing = [e for e in det.entries if e["value"] not in found]
    for e in missing:
        if args.json:
            print(json.dumps({"missing": e}, ensure_ascii=False))
        else:
            print("\t".join(["MISSING", e["file"], e["kind"], e["value"], e["form"], e["where"]]))
    print("planted: %d, found: %d" % (len(det.entries), len(det.entries) - len(missing)))
    print("missing: %d" % len(missing))
    return 1 if missing else 0


# ==========================================================================

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write hostile agency tables and manifest.json")
    g.add_argument("outdir")
    g.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("scan", help="scan files/directories for planted and generic identifiers")
    s.add_argument("--manifest")
    s.add_argument("--expect-all", action="store_true")
    s.add_argument("--json", action="store_true")
    s.add_argument("paths", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        m = generate(args.outdir, args.seed)
        n = sum(len(f["planted"]) for f in m["files"])
        print("wrote %d files, %d planted values, manifest %s"
              % (len(m["files"]), n, os.path.join(args.outdir, "manifest.json")))
        return 0
    return scan(args)


if __name__ == "__main__":
    sys.exit(main())
