#!/usr/bin/env python3
"""Regenerates the sample agency files in this folder (synthetic data, no personal data).

The files imitate what county agencies publish: a GBK CSV budget table with a
title, unit line, two-level header and totals row; an XLSX air-quality ranking
with a merged title; a UTF-8 procurement results list. Run: python3 make_examples.py
"""
import csv
import io
import random

random.seed(20240501)

# 1. Department budget, GBK, two-level header, totals first, footnote.
subjects = [
    ("210", "卫生健康支出"), ("21001", "卫生健康管理事务"), ("2100101", "行政运行"),
    ("2100102", "一般行政管理事务"), ("21003", "基层医疗卫生机构"), ("2100302", "乡镇卫生院"),
    ("21004", "公共卫生"), ("2100401", "疾病预防控制机构"), ("2100408", "基本公共卫生服务"),
    ("2100409", "重大公共卫生服务"), ("21007", "计划生育事务"), ("2100717", "计划生育服务"),
    ("208", "社会保障和就业支出"), ("20805", "行政事业单位养老支出"), ("2080505", "机关事业单位基本养老保险缴费支出"),
    ("221", "住房保障支出"), ("22102", "住房改革支出"), ("2210201", "住房公积金"),
]
rows = []
for code, name in subjects:
    staff = round(random.uniform(20, 900), 2)
    office = round(random.uniform(5, 300), 2)
    project = round(random.uniform(0, 1500), 2)
    rows.append([code, name, f"{staff + office + project:.2f}", f"{staff:.2f}", f"{office:.2f}", f"{project:.2f}"])
leaf = [r for r in rows if len(r[0]) == 7]
tot = [sum(float(r[i]) for r in leaf) for i in range(2, 6)]
out = io.StringIO()
w = csv.writer(out, lineterminator="\r\n")
w.writerow(["2024年县卫生健康局部门预算支出表", "", "", "", "", ""])
w.writerow(["单位：万元", "", "", "", "", ""])
w.writerow(["科目编码", "科目名称", "合计", "基本支出", "基本支出", "项目支出"])
w.writerow(["", "", "", "人员经费", "公用经费", ""])
w.writerow(["", "合计"] + [f"{t:.2f}" for t in tot])
for r in rows:
    w.writerow(r)
w.writerow(["注：本表为示例数据，按《政府收支分类科目》列示。", "", "", "", "", ""])
open("budget_2024_gbk.csv", "wb").write(out.getvalue().encode("gbk"))

# 2. Air quality ranking, XLSX with a merged title row.
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.title = "5月排名"
ws.append(["2024年5月各镇街环境空气质量状况排名"])
ws.merge_cells("A1:F1")
ws.append(["排名", "镇街", "AQI", "PM2.5(μg/m³)", "PM10(μg/m³)", "优良天数比例"])
towns = ["城关镇", "太平镇", "峄山镇", "香城镇", "张庄镇", "田黄镇", "石墙镇", "钢山街道", "千泉街道", "大束镇"]
data = []
for t in towns:
    pm25 = round(random.uniform(20, 70), 1)
    data.append([t, int(pm25 * 1.6 + random.uniform(0, 20)), pm25, round(pm25 * 1.6, 1), round(random.uniform(0.55, 0.97), 3)])
data.sort(key=lambda r: r[1])
for i, r in enumerate(data, 1):
    ws.append([i] + r)
for row in ws.iter_rows(min_row=3, min_col=6, max_col=6):
    for c in row:
        c.number_format = "0.0%"
wb.save("air_quality_2024_05.xlsx")

# 3. Procurement results, UTF-8 CSV.
kinds = ["物业服务项目", "办公设备采购项目", "道路维修项目", "校舍改造工程", "医疗设备采购项目", "信息化运维服务"]
methods = ["公开招标", "竞争性谈判", "竞争性磋商", "询价", "单一来源"]
buyers = ["县教育和体育局", "县卫生健康局", "县城市管理局", "县农业农村局", "县民政局"]
suppliers = ["鲁信环境工程有限公司", "泰和办公设备有限公司", "恒通路桥建设有限公司", "华康医疗器械有限公司", "云启信息技术有限公司", "城建物业管理有限公司"]

def credit_code():
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    body = "91" + "370" + str(random.randint(100, 999)) + "".join(random.choice(chars) for _ in range(9))
    s = sum(chars.index(c) * w for c, w in zip(body, weights))
    return body + chars[(31 - s % 31) % 31]

out = io.StringIO()
w = csv.writer(out, lineterminator="\n")
w.writerow(["项目编号", "项目名称", "采购人", "中标供应商", "统一社会信用代码", "中标金额(万元)", "采购方式", "公告日期"])
for i in range(40):
    town = random.choice(towns)
    w.writerow([
        f"ZFCG-2024-{1000 + i:04d}", town + random.choice(kinds), random.choice(buyers), random.choice(suppliers),
        credit_code(), f"{random.uniform(5, 900):,.2f}", random.choice(methods),
        f"2024-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}",
    ])
open("procurement_results_2024.csv", "w", encoding="utf-8").write(out.getvalue())
print("examples written")
