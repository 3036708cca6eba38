#!/usr/bin/env python3
"""Generates the search benchmark's store as NDJSON: deterministic for a seed.

    bench/gen-store.py [--seed N] [--resources N] [--patients N] OUT_DIR

writes OUT_DIR/store.ndjson (one resource a line, each with its id, so that
it is loaded with PUT and references hold) and, for bench/search.sh, the
values that queries rotate through:

    OUT_DIR/cccd.txt       CCCD number of each Patient (one a line)
    OUT_DIR/patients.txt   id of each Patient
    OUT_DIR/codes.txt      the LOINC codes used, most frequent first
    OUT_DIR/manifest.json  counts per type and per code, seed, generator version

The store: a few Organizations (facilities), Patients with Vietnamese names,
a CCCD identifier (system http://fhir.lienthong.vn/sid/cccd, 12 digits:
province, sex/century, year of birth, serial) and a BHYT insurance number;
the rest are Observations: a small realistic set of LOINC codes (lab tests
and vital signs, blood pressure as a panel with components), valueQuantity
in UCUM, effectiveDateTime spread over five years (2021-2025, +07:00),
status, category, subject and performer references. Observations are spread
unevenly over Patients: a fifth of them (the chronically ill) get about 60%.

Python 3 standard library only; the output depends on nothing but the
arguments (same seed and sizes, same bytes).
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import sys

GENERATOR_VERSION = 1

CCCD = "http://fhir.lienthong.vn/sid/cccd"
BHYT = "http://fhir.lienthong.vn/sid/bhyt"
CSKCB = "http://fhir.lienthong.vn/sid/cskcb"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# Family names with their rough share in Vietnam.
FAMILIES = [
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 3), ("Huỳnh", 2.5),
    ("Phan", 4.5), ("Vũ", 2), ("Võ", 2), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4),
    ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5), ("Trương", 1), ("Đinh", 0.8),
    ("Lâm", 0.6), ("Mai", 0.5), ("Tô", 0.3), ("Châu", 0.3), ("Tạ", 0.2), ("Quách", 0.2),
]
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Gia", "Xuân", "Anh"]
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Bảo", "Phương", "Mỹ", "Hồng"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Duy", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khang",
           "Khoa", "Kiên", "Long", "Lộc", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong", "Phúc",
           "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thành", "Thịnh", "Toàn", "Trí", "Trung",
           "Tuấn", "Tùng", "Việt", "Vinh", "Vũ"]
GIVEN_F = ["Anh", "Chi", "Diễm", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng",
           "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Nhung",
           "Oanh", "Phương", "Quyên", "Tâm", "Thảo", "Thư", "Thủy", "Trâm", "Trang", "Tuyết",
           "Uyên", "Vân", "Vy", "Xuân", "Yến"]
# CCCD province codes, city and a few districts; Ho Chi Minh City dominates.
PROVINCES = [
    ("079", "Thành phố Hồ Chí Minh", ["Quận 1", "Quận 3", "Quận 5", "Quận 10", "Bình Thạnh",
                                      "Gò Vấp", "Tân Bình", "Thủ Đức", "Bình Tân", "Phú Nhuận"], 70),
    ("001", "Hà Nội", ["Ba Đình", "Hoàn Kiếm", "Đống Đa", "Cầu Giấy"], 6),
    ("048", "Đà Nẵng", ["Hải Châu", "Thanh Khê"], 3),
    ("092", "Cần Thơ", ["Ninh Kiều", "Cái Răng"], 3),
    ("075", "Đồng Nai", ["Biên Hòa", "Long Thành"], 5),
    ("074", "Bình Dương", ["Thủ Dầu Một", "Dĩ An"], 5),
    ("080", "Long An", ["Tân An", "Bến Lức"], 4),
    ("082", "Tiền Giang", ["Mỹ Tho", "Cai Lậy"], 4),
]
STREETS = ["Lê Lợi", "Nguyễn Huệ", "Hai Bà Trưng", "Trần Hưng Đạo", "Lý Thường Kiệt",
           "Nguyễn Trãi", "Cách Mạng Tháng Tám", "Điện Biên Phủ", "Võ Văn Tần", "Pasteur",
           "Nguyễn Thị Minh Khai", "Lê Văn Sỹ", "Phan Xích Long", "Nguyễn Văn Cừ"]

# (code, display, text, category, weight, unit, ucum, low, high, decimals); BP has components.
TESTS = [
    ("8867-4", "Heart rate", "Nhịp tim", "vital-signs", 14, "/min", "/min", 52, 118, 0),
    ("85354-9", "Blood pressure panel with all children optional", "Huyết áp", "vital-signs",
     14, None, None, 0, 0, 0),
    ("29463-7", "Body weight", "Cân nặng", "vital-signs", 9, "kg", "kg", 38, 95, 1),
    ("8310-5", "Body temperature", "Nhiệt độ", "vital-signs", 7, "Cel", "Cel", 36.0, 39.5, 1),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "SpO2", "vital-signs",
     6, "%", "%", 90, 100, 0),
    ("9279-1", "Respiratory rate", "Nhịp thở", "vital-signs", 5, "/min", "/min", 12, 26, 0),
    ("8302-2", "Body height", "Chiều cao", "vital-signs", 3, "cm", "cm", 145, 185, 0),
    ("39156-5", "Body mass index (BMI) [Ratio]", "BMI", "vital-signs", 3, "kg/m2", "kg/m2",
     16, 35, 1),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "Glucose máu", "laboratory", 10,
     "mmol/L", "mmol/L", 3.5, 16.0, 1),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "HbA1c", "laboratory", 6, "%", "%",
     4.5, 12.0, 1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Creatinin", "laboratory", 6,
     "µmol/L", "umol/L", 45, 300, 0),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "Cholesterol toàn phần",
     "laboratory", 5, "mmol/L", "mmol/L", 3.0, 8.5, 2),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "Huyết sắc tố", "laboratory", 6, "g/dL",
     "g/dL", 8.0, 17.5, 1),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "Bạch cầu", "laboratory", 6,
     "10*3/uL", "10*3/uL", 3.0, 18.0, 1),
]
STATUSES = [("final", 94), ("amended", 3), ("preliminary", 2), ("corrected", 1)]
TZ = datetime.timezone(datetime.timedelta(hours=7))
START = datetime.datetime(2021, 1, 1, tzinfo=TZ)
SPAN_S = int((datetime.datetime(2026, 1, 1, tzinfo=TZ) - START).total_seconds())
N_ORGS = 24


def dumps(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


def quantity(value, unit, code, decimals):
    return {"value": round(value, decimals) if decimals else int(round(value)), "unit": unit,
            "system": UCUM, "code": code}


def organization(k, rng):
    code = "79%03d" % (10 + k * 7)
    kind = "Bệnh viện" if k < 8 else "Phòng khám đa khoa" if k < 16 else "Trạm y tế"
    district = PROVINCES[0][2][k % len(PROVINCES[0][2])]
    return {"resourceType": "Organization", "id": code,
            "identifier": [{"system": CSKCB, "value": code}], "active": True,
            "name": "%s %s số %d" % (kind, district, k + 1),
            "address": [{"line": ["%d %s" % (rng.randint(1, 400), rng.choice(STREETS))],
                         "district": district, "city": PROVINCES[0][1], "country": "VN"}]}


def patient(k, rng, used_cccd, orgs):
    female = rng.random() < 0.51
    family = rng.choices([f for f, _ in FAMILIES], [w for _, w in FAMILIES])[0]
    middle = rng.choice(MIDDLE_F if female else MIDDLE_M)
    given = rng.choice(GIVEN_F if female else GIVEN_M)
    prov = rng.choices(PROVINCES, [p[3] for p in PROVINCES])[0]
    birth = datetime.date(1935, 1, 1) + datetime.timedelta(days=rng.randrange(0, 32000))
    century = 0 if birth.year < 2000 else 2
    while True:
        cccd = "%s%d%02d%06d" % (prov[0], century + (1 if female else 0), birth.year % 100,
                                 rng.randrange(1000000))
        if cccd not in used_cccd:
            used_cccd.add(cccd)
            break
    pid = "pt-%06d" % k
    res = {"resourceType": "Patient", "id": pid,
           "identifier": [{"use": "official", "system": CCCD, "value": cccd},
                          {"system": BHYT, "value": "%s%d%s%010d" % (
                              rng.choice(["GD", "DN", "HT", "TE", "HN"]), rng.randint(1, 5),
                              prov[0][1:], rng.randrange(10 ** 10))}],
           "active": True,
           "name": [{"use": "official", "text": "%s %s %s" % (family, middle, given),
                     "family": family, "given": [middle, given]}],
           "telecom": [{"system": "phone", "value": "0%d%08d" % (rng.choice([3, 7, 8, 9]),
                                                                rng.randrange(10 ** 8)),
                        "use": "mobile"}],
           "gender": "female" if female else "male",
           "birthDate": birth.isoformat(),
           "address": [{"use": "home", "line": ["%d %s" % (rng.randint(1, 500), rng.choice(STREETS))],
                        "district": rng.choice(prov[2]), "city": prov[1], "country": "VN"}],
           "managingOrganization": {"reference": "Organization/" + rng.choice(orgs)}}
    return res, cccd


def observation(k, rng, subject, orgs):
    t = rng.choices(TESTS, [x[4] for x in TESTS])[0]
    code, display, text, cat, _, unit, ucum, low, high, dec = t
    when = START + datetime.timedelta(seconds=rng.randrange(SPAN_S))
    res = {"resourceType": "Observation", "id": "ob-%07d" % k,
           "status": rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0],
           "category": [{"coding": [{"system": CATEGORY, "code": cat,
                                     "display": "Vital Signs" if cat == "vital-signs" else "Laboratory"}]}],
           "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": text},
           "subject": {"reference": "Patient/" + subject},
           "effectiveDateTime": when.isoformat(),
           "performer": [{"reference": "Organization/" + rng.choice(orgs)}]}
    if code == "85354-9":
        sys_ = rng.randint(95, 185)
        dia = max(50, min(120, int(sys_ * rng.uniform(0.55, 0.7))))
        res["component"] = [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
             "valueQuantity": quantity(sys_, "mmHg", "mm[Hg]", 0)},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
             "valueQuantity": quantity(dia, "mmHg", "mm[Hg]", 0)}]
    else:
        res["valueQuantity"] = quantity(rng.uniform(low, high), unit, ucum, dec)
    return res, code


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--resources", type=int, default=1_000_000, help="in all (default 1,000,000)")
    ap.add_argument("--patients", type=int, default=None, help="default: 5%% of --resources")
    ap.add_argument("out_dir")
    a = ap.parse_args()
    n_pat = a.patients if a.patients is not None else max(1, a.resources // 20)
    n_obs = a.resources - n_pat - N_ORGS
    if n_obs < 0:
        sys.exit("gen-store: --resources must exceed --patients + %d" % N_ORGS)
    rng = random.Random(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    tmp = os.path.join(a.out_dir, "store.ndjson.tmp")
    counts = {"Organization": N_ORGS, "Patient": n_pat, "Observation": n_obs}
    per_code = {}
    digest = hashlib.sha256()
    with open(tmp, "w", encoding="utf-8") as out, \
            open(os.path.join(a.out_dir, "cccd.txt"), "w") as f_cccd, \
            open(os.path.join(a.out_dir, "patients.txt"), "w") as f_pid:
        def put(res):
            line = dumps(res) + "\n"
            digest.update(line.encode())
            out.write(line)

        orgs = []
        for k in range(N_ORGS):
            o = organization(k, rng)
            orgs.append(o["id"])
            put(o)
        pids, used = [], set()
        for k in range(1, n_pat + 1):
            p, cccd = patient(k, rng, used, orgs)
            pids.append(p["id"])
            f_cccd.write(cccd + "\n")
            f_pid.write(p["id"] + "\n")
            put(p)
        # A fifth of the patients (the chronically ill) get about 60% of the
        # observations; the rest are spread over everyone.
        heavy = pids[: max(1, n_pat // 5)]
        for k in range(1, n_obs + 1):
            subject = rng.choice(heavy) if rng.random() < 0.5 else rng.choice(pids)
            o, code = observation(k, rng, subject, orgs)
            per_code[code] = per_code.get(code, 0) + 1
            put(o)
    os.replace(tmp, os.path.join(a.out_dir, "store.ndjson"))
    codes = sorted(per_code, key=lambda c: (-per_code[c], c))
    with open(os.path.join(a.out_dir, "codes.txt"), "w") as f:
        f.writelines(c + "\n" for c in codes)
    manifest = {"generator_version": GENERATOR_VERSION, "seed": a.seed, "resources": a.resources,
                "counts": counts, "observations_per_code": {c: per_code[c] for c in codes},
                "date_range": ["2021-01-01", "2025-12-31"], "sha256": digest.hexdigest()}
    with open(os.path.join(a.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("gen-store: %d resources (%d Organization, %d Patient, %d Observation) in %s" % (
        a.resources, N_ORGS, n_pat, n_obs, os.path.join(a.out_dir, "store.ndjson")), file=sys.stderr)


if __name__ == "__main__":
    main()
