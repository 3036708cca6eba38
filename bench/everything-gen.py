#!/usr/bin/env python3
"""Generates the Patient/$everything benchmark's store as NDJSON.

    bench/everything-gen.py [--seed N] [--patients N] [--per-patient N] [--big N] OUT_DIR

writes OUT_DIR/store.ndjson (one resource a line, each with its id, loaded
with PUT so that references hold) and OUT_DIR/manifest.json (counts, the big
patient's id and what its $everything must hold: "members", the Patient and
its compartment, and "referenced_ids", what they refer to outside it).

The store: shared resources that are in no patient's compartment (20
Organizations, 200 Practitioners, 20 Locations, 50 Medications); one "big"
patient with --big resources in its compartment (default 1,000); and
--patients other patients with --per-patient resources each (default 200 x
100 = 20,000), so that the big patient's record sits among other patients'
data. Each patient's resources are a realistic mix: Observations (45%),
MedicationRequests, Encounters, Conditions, Procedures, DiagnosticReports
(whose result points at the patient's Observations), Immunizations,
DocumentReferences, AllergyIntolerances, CarePlans. Each patient has a care
team of about 10 Practitioners, 1-2 Organizations and 2 Locations, which its
resources refer to; MedicationRequests refer to Medications. The shared
resources and the patients come first, then everything else in a random
order, so that the records grow side by side as they do in life. Everything
validates against R4.

Python 3 standard library only; the output depends on nothing but the
arguments (same seed and sizes, same bytes).
"""
import argparse
import json
import os
import random

GENERATOR_VERSION = 1
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"

LABS = [("2345-7", "Glucose", "mg/dL", 70, 180), ("4548-4", "HbA1c", "%", 4.5, 10),
        ("2093-3", "Cholesterol", "mg/dL", 120, 280), ("8867-4", "Heart rate", "/min", 50, 120),
        ("8310-5", "Body temperature", "Cel", 36, 39.5), ("29463-7", "Body weight", "kg", 40, 95),
        ("2160-0", "Creatinine", "mg/dL", 0.5, 2.0), ("718-7", "Hemoglobin", "g/dL", 9, 17)]
CONDITIONS = [("44054006", "Diabetes mellitus type 2"), ("38341003", "Hypertension"),
              ("195967001", "Asthma"), ("13645005", "COPD"), ("235595009", "GERD")]
PROCEDURES = [("73761001", "Colonoscopy"), ("80146002", "Appendectomy"),
              ("274031008", "Rectal polypectomy"), ("232717009", "Coronary bypass")]
VACCINES = [("08", "Hep B"), ("140", "Influenza"), ("207", "COVID-19"), ("115", "Tdap")]
FIRST = ("Organization", "Practitioner", "Location", "Medication", "Patient")
MIX = [("Observation", 45), ("MedicationRequest", 12), ("Encounter", 10), ("Condition", 8),
       ("Procedure", 5), ("DiagnosticReport", 5), ("Immunization", 5), ("DocumentReference", 5),
       ("AllergyIntolerance", 3), ("CarePlan", 2)]


def ref(t, i):
    return {"reference": f"{t}/{i}"}


class Gen:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.first = []     # shared resources and patients
        self.lines = []     # the rest, shuffled: records grow side by side, as in life
        self.counts = {}

    def put(self, res):
        self.counts[res["resourceType"]] = self.counts.get(res["resourceType"], 0) + 1
        line = json.dumps(res, ensure_ascii=False, separators=(",", ":"))
        (self.first if res["resourceType"] in FIRST else self.lines).append(line)

    def when(self):
        r = self.rnd
        return (f"{r.randint(2016, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
                f"T{r.randint(7, 18):02d}:{r.randint(0, 59):02d}:00+07:00")

    def shared(self):
        for i in range(20):
            self.put({"resourceType": "Organization", "id": f"org-{i}", "active": True,
                      "name": f"Bệnh viện {i}"})
        for i in range(200):
            self.put({"resourceType": "Practitioner", "id": f"pr-{i}",
                      "name": [{"family": "Bác sĩ", "given": [str(i)]}]})
        for i in range(20):
            self.put({"resourceType": "Location", "id": f"loc-{i}", "name": f"Khoa {i}",
                      "managingOrganization": ref("Organization", f"org-{i}")})
        for i in range(50):
            self.put({"resourceType": "Medication", "id": f"med-{i}",
                      "code": {"coding": [{"system": RXNORM, "code": str(310000 + i)}]}})

    def patient(self, pid, n):
        """The patient and n resources in its compartment; returns what its
        $everything holds: (compartment ids, referenced non-compartment ids)."""
        r = self.rnd
        team = r.sample(range(200), 10)
        orgs = r.sample(range(20), 2)
        locs = r.sample(range(20), 2)
        self.put({"resourceType": "Patient", "id": pid, "gender": r.choice(["male", "female"]),
                  "birthDate": f"{r.randint(1940, 2010)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}",
                  "name": [{"family": "Nguyễn", "given": ["Văn", pid]}],
                  "generalPractitioner": [ref("Practitioner", f"pr-{team[0]}")],
                  "managingOrganization": ref("Organization", f"org-{orgs[0]}")})
        members, outside = [f"Patient/{pid}"], {f"Practitioner/pr-{team[0]}",
                                               f"Organization/org-{orgs[0]}"}
        types = [t for t, w in MIX for _ in range(w)]
        encounters, observations = [], []
        subj = ref("Patient", pid)

        def pr():
            k = f"pr-{r.choice(team)}"
            outside.add(f"Practitioner/{k}")
            return ref("Practitioner", k)

        def org():
            k = f"org-{r.choice(orgs)}"
            outside.add(f"Organization/{k}")
            return ref("Organization", k)

        def loc():
            k = f"loc-{r.choice(locs)}"
            outside.add(f"Location/{k}")
            return ref("Location", k)

        def enc():
            return ref("Encounter", r.choice(encounters)) if encounters else None

        for k in range(n):
            t = "Encounter" if k == 0 else types[r.randrange(len(types))]
            rid = f"{pid}-{k}"
            res = {"resourceType": t, "id": rid}
            if t == "Observation":
                code, text, unit, lo, hi = r.choice(LABS)
                res.update({"status": "final",
                            "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
                            "subject": subj, "effectiveDateTime": self.when(),
                            "valueQuantity": {"value": round(r.uniform(lo, hi), 1), "unit": unit,
                                              "system": UCUM, "code": unit},
                            "performer": [pr()]})
                observations.append(rid)
            elif t == "Encounter":
                res.update({"status": "finished",
                            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                      "code": "AMB"},
                            "subject": subj, "participant": [{"individual": pr()}],
                            "serviceProvider": org(), "location": [{"location": loc()}],
                            "period": {"start": self.when()}})
                encounters.append(rid)
            elif t == "MedicationRequest":
                m = f"med-{r.randrange(50)}"
                outside.add(f"Medication/{m}")
                res.update({"status": "active", "intent": "order",
                            "medicationReference": ref("Medication", m), "subject": subj,
                            "requester": pr(), "authoredOn": self.when()})
            elif t == "Condition":
                code, text = r.choice(CONDITIONS)
                res.update({"code": {"coding": [{"system": SNOMED, "code": code}], "text": text},
                            "subject": subj, "recordedDate": self.when(), "asserter": pr()})
            elif t == "Procedure":
                code, text = r.choice(PROCEDURES)
                res.update({"status": "completed",
                            "code": {"coding": [{"system": SNOMED, "code": code}], "text": text},
                            "subject": subj, "performedDateTime": self.when(),
                            "performer": [{"actor": pr()}], "location": loc()})
            elif t == "DiagnosticReport":
                res.update({"status": "final", "code": {"coding": [{"system": LOINC,
                                                                    "code": "58410-2"}]},
                            "subject": subj, "effectiveDateTime": self.when(),
                            "performer": [org()]})
                if observations:
                    res["result"] = [ref("Observation", o)
                                     for o in r.sample(observations, min(3, len(observations)))]
            elif t == "Immunization":
                code, text = r.choice(VACCINES)
                res.update({"status": "completed",
                            "vaccineCode": {"coding": [{"system": CVX, "code": code}], "text": text},
                            "patient": subj, "occurrenceDateTime": self.when(),
                            "performer": [{"actor": pr()}], "location": loc()})
            elif t == "DocumentReference":
                res.update({"status": "current", "subject": subj, "author": [pr()],
                            "custodian": org(),
                            "content": [{"attachment": {"contentType": "text/plain",
                                                        "data": "S2jDoW0gYuG7h25o"}}]})
            elif t == "AllergyIntolerance":
                res.update({"patient": subj, "recorder": pr(),
                            "code": {"coding": [{"system": SNOMED, "code": "91936005"}],
                                     "text": "Penicillin"}})
            else:  # CarePlan
                res.update({"status": "active", "intent": "plan", "subject": subj,
                            "author": pr()})
            e = enc()
            if e and t in ("Observation", "Condition", "Procedure", "DiagnosticReport",
                           "MedicationRequest", "Immunization", "CarePlan"):
                res["encounter"] = e
            self.put(res)
            members.append(f"{t}/{rid}")
        return members, sorted(outside)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--patients", type=int, default=200, help="other patients")
    ap.add_argument("--per-patient", type=int, default=100)
    ap.add_argument("--big", type=int, default=1000,
                    help="resources in the big patient's compartment (besides the Patient)")
    ap.add_argument("out")
    a = ap.parse_args()
    g = Gen(a.seed)
    g.shared()
    members, outside = g.patient("big", a.big)
    big = {"id": "big", "compartment": len(members), "referenced": len(outside),
           "types": sorted({m.split("/")[0] for m in members}),
           "members": members, "referenced_ids": outside}
    for k in range(a.patients):
        g.patient(f"p{k}", a.per_patient)
    # Written in a random order, so that the big patient's rows are spread
    # over the tables among the others' instead of sitting in one block.
    g.rnd.shuffle(g.lines)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "store.ndjson"), "w", encoding="utf-8") as f:
        f.write("\n".join(g.first + g.lines) + "\n")
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"generator": GENERATOR_VERSION, "seed": a.seed, "patients": a.patients + 1,
                   "per_patient": a.per_patient, "resources": len(g.first) + len(g.lines),
                   "counts": g.counts,
                   "big": big}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
