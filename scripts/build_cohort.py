"""Writes the sample cohort (cohort/*.json) and what each should get (cohort/EXPECTED.yaml).

One eligible applicant per category and association family, then variants that each carry one
deliberate gap. The expectations are written here by hand from REQUIREMENTS.md and the readings in
rules/README.md, not computed by the evaluator: tests/test_cohort.py compares the two.
Run: .venv/bin/python scripts/build_cohort.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "cohort"

# A small professional network, reused across applications as in a real association.
P = {
    "whitfield": {"name": "Dana Whitfield", "email": "dwhitfield@example.org", "endorsement": "IMHM-C"},
    "okafor": {"name": "Grace Okafor", "email": "g.okafor@example.org", "endorsement": "IMHS"},
    "lindqvist": {"name": "Erik Lindqvist", "email": "elindqvist@example.net", "endorsement": "IMHM-C"},
    "moreno": {"name": "Lucia Moreno", "email": "lmoreno@example.com", "endorsement": "IFS"},
    "chen": {"name": "Wei Chen", "email": "wchen@example.org", "endorsement": None},
    "baptiste": {"name": "Marie Baptiste", "email": "mbaptiste@example.net", "endorsement": "IMHM-P"},
    "haddad": {"name": "Omar Haddad", "email": "ohaddad@example.org", "endorsement": "IMHM-RF"},
    "nguyen": {"name": "Thao Nguyen", "email": "tnguyen@example.com", "endorsement": None},
    "kowalski": {"name": "Anna Kowalski", "email": "akowalski@example.org", "endorsement": "ECMHS"},
    "ramirez": {"name": "Jose Ramirez", "email": "jramirez@example.net", "endorsement": None},
    "adams": {"name": "Keisha Adams", "email": "kadams@example.org", "endorsement": "IMHS"},
    "obrien": {"name": "Siobhan O'Brien", "email": "sobrien@example.com", "endorsement": None},
    "student": {"name": "Priya Raman", "email": "praman@student.example.edu", "endorsement": None},
    "supervisee": {"name": "Tom Becker", "email": "tbecker@example.org", "endorsement": None},
    "recipient": {"name": "Hannah Weiss", "email": "hweiss@example.org", "endorsement": "IMHS"},
}


def ref(person: str, role: str, *, submitted_on: str | None = "2026-08-15", status: str = "submitted", na: int = 1,
        rec: str = "recommend", waived: bool = True, **rater_extra) -> dict:
    r = {"rater": {**P[person], **rater_extra}, "role": role, "status": status, "waived_access": waived}
    if status == "submitted":
        r.update(submitted_on=submitted_on, insufficient_information_count=na, recommendation=rec)
    return r


def training(*hours_topics) -> list[dict]:
    titles = ["Infant-parent psychotherapy intensive", "Attachment and early relationships", "Perinatal mood disorders",
              "Working with families after trauma", "Reflective practice seminar", "Cultural humility in IMH practice",
              "Early relationship assessment", "Supporting parents of young children with disabilities"]
    out = []
    for i, (hours, topics) in enumerate(hours_topics):
        out.append({"title": titles[i % len(titles)] + ("" if i < len(titles) else f" {i}"), "hours": hours,
                    "completed_on": f"202{3 + i % 3}-0{1 + i % 8}-1{i % 9}", "topics": topics})
    return out


RB = ["relationship_based"]


def base(category: str, association: str, app_id: str, applicant: tuple[str, str], employer: str) -> dict:
    name, email = applicant
    doc = {
        "id": app_id, "association": association, "category": category, "submitted_on": "2026-06-01",
        "applicant": {"name": name, "email": email, "is_supervisor": False},
        "agreements": {"code_of_ethics_signed_on": "2026-05-28", "endorsement_agreement_signed_on": "2026-05-28"},
        "memberships": [{"association": association if association != "ALLIANCE" else "MI-AIMH", "expires_on": "2027-06-30"}],
    }
    if category == "IFA":
        doc.update(
            education=[{"institution": "Lansing Community College", "credential": "associate", "degree": "AAS Early Childhood",
                        "conferred_on": "2019-05-10", "transcript": {"official": True, "received_on": "2026-06-20"}}],
            training=training((16, RB), (12, RB), (14, RB)),
            work=[{"employer": employer, "role": "Home visitor", "kind": "infant_related", "start_on": "2020-09-01",
                   "end_on": None, "paid": True, "after": "none"}],
            references=[ref("obrien", "current_supervisor"), ref("moreno", "colleague"),
                        ref("ramirez", "parent_or_service_recipient", waived=False)],
        )
    elif category == "IFS":
        doc.update(
            education=[{"institution": "Wayne State University", "credential": "bachelors", "degree": "BSW",
                        "conferred_on": "2018-05-12", "transcript": {"official": True, "received_on": "2026-06-18"}}],
            training=training((20, RB), (18, RB), (16, RB)),
            work=[{"employer": employer, "role": "Parent educator", "kind": "prevention_early_intervention",
                   "start_on": "2019-01-07", "end_on": None, "paid": True, "after": "bachelors", "families_served": 42}],
            rsc=[{"provider": P["okafor"], "hours": 30, "start_on": "2024-09-01", "end_on": "2025-12-15",
                  "format": "group", "after": "bachelors"}],
            references=[ref("chen", "current_supervisor"), ref("okafor", "rsc_provider"), ref("moreno", "colleague")],
        )
    elif category == "IMHS":
        doc.update(
            education=[{"institution": "University of Michigan", "credential": "masters", "degree": "MSW",
                        "conferred_on": "2019-04-30", "transcript": {"official": True, "received_on": "2026-06-15"}}],
            training=training((24, RB), (20, RB), (18, RB), (16, RB)),
            work=[{"employer": employer, "role": "Infant mental health therapist", "kind": "imh_relationship_services",
                   "start_on": "2019-08-01", "end_on": None, "paid": True, "after": "masters"}],
            rsc=[{"provider": P["whitfield"], "hours": 56, "start_on": "2024-07-01", "end_on": "2026-04-30",
                  "format": "individual", "after": "masters"}],
            references=[ref("chen", "current_supervisor"), ref("whitfield", "rsc_provider"), ref("adams", "colleague")],
            exam={"multiple_choice_percent": 86, "essay_result": "pass", "taken_on": "2026-10-03"},
        )
    else:
        doc.update(
            education=[{"institution": "Michigan State University", "credential": "doctorate", "degree": "PhD",
                        "conferred_on": "2012-05-05", "transcript": {"official": True, "received_on": "2026-06-12"}}],
            training=training((24, RB), (20, RB), (18, RB), (16, RB), (15, ["rsc_didactic"])),
            # An association committee: leadership in addition to paid work (004 · IMHM · Leadership).
            leadership_activities=[{"description": "Chair, state IMH association training committee", "level": "state",
                                    "start_on": "2019-01-01", "end_on": None, "part_of_paid_work": False}],
            exam={"multiple_choice_percent": 84, "essay_result": "pass", "taken_on": "2026-10-03"},
        )
        if category == "IMHM-C":
            doc.update(
                work=[{"employer": employer, "role": "Clinical director", "kind": "imh_relationship_services",
                       "start_on": "2012-09-01", "end_on": None, "paid": True, "after": "masters"},
                      {"employer": employer, "role": "RS/C provider", "kind": "rsc_provision", "start_on": "2016-01-01",
                       "end_on": None, "paid": True, "after": "masters"}],
                rsc=[{"provider": P["lindqvist"], "hours": 60, "start_on": "2024-06-01", "end_on": "2026-03-31",
                      "format": "individual", "after": "masters", "about_providing_rsc_hours": 32}],
                references=[ref("chen", "current_supervisor"), ref("lindqvist", "rsc_provider"),
                            ref("recipient", "rsc_recipient")],
            )
        elif category == "IMHM-P":
            doc.update(
                work=[{"employer": employer, "role": "Early childhood policy director", "kind": "policy_leadership",
                       "start_on": "2014-03-01", "end_on": None, "paid": True, "after": "masters"}],
                references=[ref("baptiste", "current_supervisor"), ref("nguyen", "colleague"), ref("obrien", "colleague")],
            )
        else:
            doc.update(
                work=[{"employer": employer, "role": "Associate professor", "kind": "university_leadership",
                       "start_on": "2013-08-15", "end_on": None, "paid": True, "after": "masters"}],
                references=[ref("haddad", "department_chair"), ref("nguyen", "colleague"), ref("student", "student")],
            )
    return doc


COHORT: list[dict] = []


def add(file: str, doc: dict, gap: str, eligible: bool, statuses: dict | None = None, warnings: list | None = None):
    COHORT.append({"file": file, "doc": doc, "gap": gap, "eligible": eligible, "statuses": statuses or {},
                   "warnings": warnings or []})


def variant(d: dict, new_id: str, **changes) -> dict:
    d = copy.deepcopy(d)
    d["id"] = new_id
    for k, v in changes.items():
        d[k] = v
    return d


def build() -> None:
    people = iter([
        ("Jordan Reyes", "jordan.reyes@example.net"), ("Amara Nwosu", "amara.nwosu@example.com"),
        ("Caleb Foster", "caleb.foster@example.org"), ("Lena Hoffmann", "lena.hoffmann@example.net"),
        ("Mateo Silva", "mateo.silva@example.com"), ("Aisha Rahman", "aisha.rahman@example.org"),
        ("Noah Whitaker", "noah.whitaker@example.net"), ("Sofia Marino", "sofia.marino@example.com"),
        ("Ethan Brooks", "ethan.brooks@example.org"), ("Yuki Tanaka", "yuki.tanaka@example.net"),
        ("Olivia Grant", "olivia.grant@example.com"), ("Samuel Owusu", "samuel.owusu@example.org"),
        ("Isabel Cruz", "isabel.cruz@example.net"), ("Daniel Kim", "daniel.kim@example.com"),
        ("Ruth Abernathy", "ruth.abernathy@example.org"), ("Felix Wagner", "felix.wagner@example.net"),
        ("Maya Patel", "maya.patel@example.com"), ("Gabriel Dubois", "gabriel.dubois@example.org"),
        ("Nadia Petrova", "nadia.petrova@example.net"), ("Isaac Levy", "isaac.levy@example.com"),
        ("Chloe Martin", "chloe.martin@example.org"), ("Hiro Sato", "hiro.sato@example.net"),
        ("Zara Ahmed", "zara.ahmed@example.com"), ("Liam O'Connor", "liam.oconnor@example.org"),
        ("Elena Rossi", "elena.rossi@example.net"), ("Marcus Bell", "marcus.bell@example.com"),
        ("Fatima Diallo", "fatima.diallo@example.org"), ("Owen Price", "owen.price@example.net"),
        ("Leah Goldberg", "leah.goldberg@example.com"), ("Victor Alvarez", "victor.alvarez@example.org"),
        ("Imani Carter", "imani.carter@example.net"), ("Jonas Berg", "jonas.berg@example.com"),
        ("Rosa Delgado", "rosa.delgado@example.org"), ("Ben Adler", "ben.adler@example.net"),
        ("Kira Novak", "kira.novak@example.com"), ("Tariq Hassan", "tariq.hassan@example.org"),
        ("Anya Volkova", "anya.volkova@example.net"), ("Colin Murphy", "colin.murphy@example.com"),
        ("Priscilla Yeboah", "priscilla.yeboah@example.org"), ("Henrik Larsen", "henrik.larsen@example.net"),
        ("Gloria Mendes", "gloria.mendes@example.com"), ("Arjun Mehta", "arjun.mehta@example.org"),
        ("Bianca Ferreira", "bianca.ferreira@example.net"), ("Declan Walsh", "declan.walsh@example.com"),
    ])
    employers = iter(["Detroit Family Partners", "Kent County Early Start", "Hartford Family Center",
                      "New Haven Infant Clinic", "Richmond Children's Alliance", "Portland Early Learning Hub",
                      "Grand Rapids Child Guidance", "Norfolk Family Connections", "Salem Infant Services",
                      "Ann Arbor Parent-Infant Program", "Bridgeport Family Resource Center", "Roanoke Early Years",
                      "Eugene Relief Nursery", "Flint Infant Mental Health Services", "Stamford Kids First",
                      "Charlottesville Family Network", "Bend Healthy Families", "Lansing Community Mental Health",
                      "Waterbury Infant Toddler Program", "Alexandria Early Childhood Council", "Medford Family Works",
                      "Kalamazoo Infant Services", "Danbury Child Development", "Lynchburg Family Supports",
                      "Corvallis Parent Partners", "Saginaw Early Connections", "Norwalk Infant Care", "Arlington Policy Lab",
                      "Oregon Health Policy Institute", "Virginia Early Childhood Foundation",
                      "Michigan Public Health Institute", "Yale Child Study Center", "Portland State University",
                      "Virginia Commonwealth University", "University of Oregon", "Eastern Michigan University",
                      "Connecticut Children's", "Traverse Bay Family Services", "Middletown Infant Program",
                      "Harrisonburg Parent Center", "Medford Infant Clinic", "Marquette Family Resources",
                      "Hampton Roads Early Start", "Tillamook Family Network"])

    def b(cat, assoc, app_id):
        return base(cat, assoc, app_id, next(people), next(employers))

    # --- eligible applicants, every category --------------------------------------------------------------
    add("mi-aimh-ifa-eligible-01.json", b("IFA", "MI-AIMH", "MI-2026-101"), "none: eligible", True)
    add("ct-aimh-ifs-eligible-01.json", b("IFS", "CT-AIMH", "CT-2026-102"), "none: eligible", True)
    add("mi-aimh-imhs-eligible-01.json", b("IMHS", "MI-AIMH", "MI-2026-103"), "none: eligible", True)
    d = b("IMHM-C", "MI-AIMH", "MI-2026-104")
    d["training"] = training((30, RB), (25, RB), (20, RB), (15, ["rsc_didactic"]))  # 90 h: MI-AIMH typical
    add("mi-aimh-imhm-c-eligible-01.json", d, "none: eligible", True)
    d = b("IMHM-P", "VAIMH", "VA-2026-105")
    d["training"] = training((30, RB), (25, RB), (20, ["relationship_based", "dei"]))
    d["memberships"] = [{"association": "VAIMH", "expires_on": "2027-03-31"}]
    add("vaimh-imhm-p-eligible-01.json", d, "none: eligible (DEI 20 h, VAIMH member)", True)
    d = b("IMHM-RF", "ORIMHA", "OR-2026-106")
    add("orimha-imhm-rf-eligible-01.json", d, "none: eligible (colleague instead of RS/C provider)", True)

    # --- education and transcripts ---------------------------------------------------------------------------
    d = b("IMHS", "CT-AIMH", "CT-2026-107")
    d["education"][0]["transcript"] = {"official": True, "received_on": None}
    add("ct-aimh-imhs-transcript-awaited.json", d, "official transcript requested, not received", False,
        {"transcripts": "pending"})
    d = b("IFS", "ORIMHA", "OR-2026-108")
    d["education"][0]["transcript"] = {"official": False, "received_on": "2026-06-10"}
    add("orimha-ifs-transcript-unofficial.json", d, "only an unofficial transcript", False, {"transcripts": "unmet"})
    d = b("IMHS", "VAIMH", "VA-2026-109")
    d["education"] = [{"institution": "Old Dominion University", "credential": "bachelors", "degree": "BS Psychology",
                       "conferred_on": "2016-05-14", "transcript": {"official": True, "received_on": "2026-06-11"}}]
    d["work"][0]["after"] = "bachelors"
    d["rsc"][0]["after"] = "bachelors"
    add("vaimh-imhs-bachelors-only.json", d, "bachelor's degree below IMHS level (work and RS/C not post-master's)",
        False, {"education": "unmet", "work_experience": "unmet", "rsc_hours": "unmet"})
    d = b("IFA", "CT-AIMH", "CT-2026-110")
    d["education"] = []
    d["work"] = [{"employer": "Hartford Head Start", "role": "Infant room teacher", "kind": "infant_related",
                  "start_on": "2021-08-16", "end_on": "2024-06-30", "paid": True, "after": "none"}]
    add("ct-aimh-ifa-work-instead-of-education.json", d, "no coursework: 2+ years of paid infant-related work", True,
        {"education": "met", "transcripts": "not_applicable"})

    # --- training ---------------------------------------------------------------------------------------------
    d = b("IFS", "MI-AIMH", "MI-2026-111")
    d["training"] = training((12, RB), (14, RB))
    add("mi-aimh-ifs-training-short.json", d, "26 h of training, below the 30 h minimum", False,
        {"training_hours": "unmet"}, ["training_hours"])
    d = b("IMHS", "ORIMHA", "OR-2026-112")
    d["training"] = training((20, RB), (16, RB), (12, RB))
    add("orimha-imhs-training-below-typical.json", d, "48 h: above the minimum, below the typical 75 (warning only)",
        True, {"training_hours": "met"}, ["training_hours"])
    d = b("IMHM-C", "CT-AIMH", "CT-2026-113")
    d["training"] = training((30, RB), (25, RB), (20, RB), (8, ["rsc_didactic"]))
    add("ct-aimh-imhm-c-rsc-didactic-short.json", d, "8 of 15 h of RS/C didactic training", False,
        {"rsc_training_hours": "unmet"})
    d = b("IMHM-P", "VAIMH", "VA-2026-114")
    d["training"] = training((30, RB), (25, RB), (20, RB), (2, ["dei"]))
    d["memberships"] = [{"association": "VAIMH", "expires_on": "2027-02-28"}]
    add("vaimh-imhm-p-dei-short.json", d, "2 of 3 h of DEI training required by VAIMH", False,
        {"dei_training_hours": "unmet"})
    d = b("IMHM-P", "VAIMH", "VA-2026-115")
    d["training"] = training((30, RB), (25, RB), (20, RB), (3, ["dei"]))
    d["memberships"] = [{"association": "MI-AIMH", "expires_on": "2027-02-28"}]
    add("vaimh-imhm-p-not-vaimh-member.json", d, "member of MI-AIMH, but VAIMH IMHM-P needs VAIMH membership", False,
        {"membership": "unmet", "dei_training_hours": "met"})

    # --- work experience -----------------------------------------------------------------------------------------
    d = b("IFS", "VAIMH", "VA-2026-116")
    d["work"] = [{"employer": "Norfolk Family Connections", "role": "Family support worker", "kind": "prevention_early_intervention",
                  "start_on": "2023-01-09", "end_on": "2024-03-31", "paid": True, "after": "bachelors", "families_served": 25}]
    add("vaimh-ifs-work-too-short.json", d, "1.2 years of qualifying work (2 needed); its RS/C came after the job ended "
        "(not while providing services)", False, {"work_experience": "unmet", "rsc_hours": "unmet"})
    d = b("IMHS", "MI-AIMH", "MI-2026-117")
    d["work"] = [
        {"employer": "Flint Infant Mental Health Services", "role": "IMH therapist", "kind": "imh_relationship_services",
         "start_on": "2022-01-03", "end_on": "2023-02-28", "paid": True, "after": "masters"},
        {"employer": "Genesee Health System", "role": "IMH home visitor (part time)", "kind": "imh_relationship_services",
         "start_on": "2022-11-01", "end_on": "2024-01-31", "paid": True, "after": "masters"},
    ]
    add("mi-aimh-imhs-overlapping-jobs.json", d, "two overlapping 14-month jobs: 2.1 calendar years counted once; "
        "RS/C received after the jobs ended (2024-07 on) does not count (not while providing services)",
        False, {"work_experience": "met", "rsc_hours": "unmet"})
    d = b("IMHS", "CT-AIMH", "CT-2026-118")
    d["work"] = [
        {"employer": "Yale Child Study Center", "role": "Graduate intern", "kind": "graduate_internship",
         "start_on": "2022-09-01", "end_on": "2023-08-31", "paid": False, "after": "bachelors",
         "supervisor_endorsement": "IMHM-C"},
        {"employer": "New Haven Infant Clinic", "role": "IMH clinician", "kind": "imh_relationship_services",
         "start_on": "2025-09-01", "end_on": None, "paid": True, "after": "masters"},
    ]
    d["education"][0]["conferred_on"] = "2024-05-20"
    d["rsc"] = [{"provider": P["whitfield"], "hours": 52, "start_on": "2024-10-01", "end_on": "2026-06-30",
                 "format": "group", "after": "masters"}]
    # 002: the internship description goes to the application reviewers; here they accepted it.
    d["determinations"] = [{"question": "imhs_internship_description", "by": "reviewers@ct-aimh.example",
                            "decided_on": "2026-10-15", "accepted": True,
                            "note": "description read: direct IMH practice with infants and parents, supervised by an IMHM-C"}]
    add("ct-aimh-imhs-internship-credit.json", d, "1.2 years paid + 1 year of internship accepted by the reviewers; "
        "RS/C before the job began does not count (24.7 of 50 h while providing services)",
        False, {"work_experience": "met", "rsc_hours": "unmet"})
    d = b("IMHS", "ORIMHA", "OR-2026-119")
    d["work"] = [{"employer": "Salem Infant Services", "role": "IMH specialist", "kind": "imh_relationship_services",
                  "start_on": "2025-06-02", "end_on": None, "paid": True, "after": "masters"}]
    add("orimha-imhs-ongoing-job-not-yet-two-years.json", d, "ongoing job since 2025-06: 1.5 of 2 years, met in 2027; "
        "RS/C before the job does not count (27.9 of 50 h while providing services)",
        False, {"work_experience": "pending", "rsc_hours": "unmet"})

    # --- leadership ----------------------------------------------------------------------------------------------------
    d = b("IMHM-RF", "MI-AIMH", "MI-2026-120")
    d["training"] = training((30, RB), (25, RB), (20, RB), (15, RB))
    d["leadership_activities"] = [{"description": "Organizer, county reading group", "level": "local",
                                   "part_of_paid_work": False}]
    add("mi-aimh-imhm-rf-local-leadership-only.json", d, "only a local leadership activity", False,
        {"leadership": "unmet"})

    # --- RS/C ------------------------------------------------------------------------------------------------------------
    d = b("IMHS", "VAIMH", "VA-2026-121")
    d["rsc"][0]["hours"] = 44
    add("vaimh-imhs-rsc-short.json", d, "44 of 50 RS/C hours", False, {"rsc_hours": "unmet"})
    d = b("IMHS", "MI-AIMH", "MI-2026-122")
    d["rsc"][0]["provider"] = P["moreno"]  # IFS: not a qualifying provider for IMHS
    add("mi-aimh-imhs-rsc-wrong-provider.json", d, "RS/C from an IFS provider does not count for IMHS", False,
        {"rsc_hours": "unmet"})
    d = b("IFS", "CT-AIMH", "CT-2026-123")
    d["rsc"] = [{"provider": P["okafor"], "hours": 30, "start_on": "2025-09-01", "end_on": "2026-04-30",
                 "format": "group", "after": "bachelors"}]
    add("ct-aimh-ifs-rsc-within-eight-months.json", d, "30 h of RS/C all within 8 months (12 needed)", False,
        {"rsc_hours": "unmet"})
    d = b("IMHS", "ORIMHA", "OR-2026-124")
    d["rsc"] = [{"provider": P["adams"], "hours": 20, "start_on": "2022-01-01", "end_on": "2022-12-31", "format": "group",
                 "after": "masters"},
                {"provider": P["adams"], "hours": 20, "start_on": "2023-07-01", "end_on": "2024-06-30", "format": "group",
                 "after": "masters"},
                {"provider": P["adams"], "hours": 20, "start_on": "2025-01-01", "end_on": "2025-12-31", "format": "group",
                 "after": "masters"}]
    add("orimha-imhs-rsc-spread-over-four-years.json", d, "60 h spread over 4 years: no 24-month window holds 50",
        False, {"rsc_hours": "unmet"})
    d = b("IMHM-C", "ORIMHA", "OR-2026-125")
    d["rsc"][0]["about_providing_rsc_hours"] = 18
    add("orimha-imhm-c-rsc-about-providing-short.json", d, "18 of 25 h about the RS/C the applicant provides", False,
        {"rsc_about_providing_hours": "unmet"})

    # --- references ----------------------------------------------------------------------------------------------------
    d = b("IFS", "MI-AIMH", "MI-2026-126")
    d["references"][2] = ref("moreno", "colleague", status="declined")
    add("mi-aimh-ifs-rater-declined.json", d, "the colleague declined to rate", False, {"references": "unmet"})
    d = b("IMHS", "CT-AIMH", "CT-2026-127")
    d["references"][2] = ref("adams", "colleague", na=7)
    add("ct-aimh-imhs-rating-not-enough-information.json", d, "a rating with 7 'not enough information' answers",
        False, {"references": "unmet"})
    d = b("IFA", "VAIMH", "VA-2026-128")
    d["references"] = [ref("obrien", "current_supervisor"), ref("moreno", "colleague"), ref("moreno", "teacher")]
    add("vaimh-ifa-same-rater-twice.json", d, "the same rater twice counts once", False, {"references": "unmet"})
    d = b("IFS", "ORIMHA", "OR-2026-129")
    d["references"][2] = {"rater": {"name": d["applicant"]["name"], "email": d["applicant"]["email"], "endorsement": None},
                          "role": "colleague", "status": "submitted", "submitted_on": "2026-07-01",
                          "insufficient_information_count": 0, "recommendation": "recommend", "waived_access": False}
    add("orimha-ifs-applicant-rates-self.json", d, "the applicant listed as their own rater", False,
        {"references": "unmet"})
    d = b("IMHM-C", "VAIMH", "VA-2026-130")
    d["references"][2] = ref("nguyen", "colleague")
    add("vaimh-imhm-c-no-rsc-recipient-rater.json", d, "no rating from someone who receives RS/C from the applicant",
        False, {"references": "unmet"})
    d = b("IMHM-P", "ORIMHA", "OR-2026-131")
    d["references"] = [ref("nguyen", "colleague"), ref("obrien", "colleague"), ref("baptiste", "colleague")]
    d["applicant"]["no_supervisor_or_rsc_provider_available"] = True
    add("orimha-imhm-p-three-colleagues.json", d, "three colleagues, the applicant stating no supervisor or RS/C "
        "provider is available: allowed", True,
        {"references": "met"})
    d = b("IMHS", "MI-AIMH", "MI-2026-132")
    d["applicant"]["is_supervisor"] = True
    d["references"][2] = ref("supervisee", "supervisee")
    add("mi-aimh-imhs-supervisee-rater.json", d, "a supervisee as third rater; the applicant supervises", True,
        {"references": "met"})
    d = b("IMHS", "VAIMH", "VA-2026-133")
    d["references"][2] = ref("supervisee", "supervisee")
    add("vaimh-imhs-supervisee-not-allowed.json", d, "a supervisee as third rater, but the applicant supervises no one",
        False, {"references": "unmet"})
    d = b("IFS", "VAIMH", "VA-2026-134")
    d["references"] = [ref("chen", "current_supervisor"), ref("kowalski", "rsc_provider"), ref("ramirez", "colleague")]
    d["rsc"][0]["provider"] = P["okafor"]
    add("vaimh-ifs-no-endorsed-rater.json", d, "raters hold no endorsement (ECMHS counts in the baseline)", True,
        {"endorsed_rater": "met"})
    d = b("IFS", "MI-AIMH", "MI-2026-135")
    d["references"] = [ref("chen", "current_supervisor"), ref("kowalski", "rsc_provider"), ref("ramirez", "colleague")]
    add("mi-aimh-ifs-ecmhs-rater-not-counted.json", d, "MI-AIMH counts only IFS/IMHS/IMHM raters: ECMHS does not",
        False, {"endorsed_rater": "unmet"})
    d = b("IFA", "ORIMHA", "OR-2026-136")
    d["references"] = [ref("obrien", "current_supervisor", vetted_on="2026-07-20"), ref("ramirez", "colleague"),
                       ref("nguyen", "board_member")]
    add("orimha-ifa-vetted-rater.json", d, "no endorsed rater, but a coordinator vetted the supervisor", True,
        {"endorsed_rater": "met"})
    d = b("IMHM-RF", "CT-AIMH", "CT-2026-137")
    d["references"][2] = ref("student", "student", status="requested")
    add("ct-aimh-imhm-rf-rating-requested.json", d, "the student's rating is still requested", False,
        {"references": "pending"})

    # --- agreements, membership, exam ------------------------------------------------------------------------------------
    d = b("IFA", "MI-AIMH", "MI-2026-138")
    d["agreements"]["code_of_ethics_signed_on"] = None
    add("mi-aimh-ifa-ethics-unsigned.json", d, "code of ethics not signed", False, {"code_of_ethics": "unmet"})
    d = b("IFS", "CT-AIMH", "CT-2026-139")
    d["memberships"] = [{"association": "CT-AIMH", "expires_on": "2026-10-31"}]
    add("ct-aimh-ifs-membership-expired.json", d, "membership expired 2026-10-31", False, {"membership": "unmet"})
    d = b("IMHS", "ORIMHA", "OR-2026-140")
    d["exam"] = {"multiple_choice_percent": 72, "essay_result": "pass", "taken_on": "2026-10-03"}
    add("orimha-imhs-exam-failed.json", d, "multiple choice 72 % (pass mark 80)", False, {"exam": "unmet"})
    d = b("IMHM-P", "MI-AIMH", "MI-2026-141")
    d["training"] = training((30, RB), (25, RB), (20, RB), (15, RB))
    d["exam"] = {"multiple_choice_percent": 91, "essay_result": "pending", "taken_on": "2026-10-03"}
    add("mi-aimh-imhm-p-essay-pending.json", d, "essay still with the reviewers", False, {"exam": "pending"})
    d = b("IMHS", "CT-AIMH", "CT-2026-142")
    del d["exam"]
    add("ct-aimh-imhs-no-exam-yet.json", d, "exam not taken yet (eligibility review next)", False, {"exam": "pending"})


def write() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    lines = ["# What each cohort document should get, as of 2026-11-22 (written by hand: scripts/build_cohort.py).",
             "# statuses: requirements whose status is the point of the document; everything else is met or n/a.",
             "as_of: 2026-11-22", "applications:"]
    for c in COHORT:
        (OUT / c["file"]).write_text(json.dumps(c["doc"], indent=2, ensure_ascii=False) + "\n")
        d = c["doc"]
        lines += [f"  - file: {c['file']}", f"    id: {d['id']}", f"    category: {d['category']}",
                  f"    association: {d['association']}", f"    eligible: {str(c['eligible']).lower()}",
                  f"    gap: {json.dumps(c['gap'])}",
                  "    statuses: {" + ", ".join(f"{k}: {v}" for k, v in c["statuses"].items()) + "}",
                  "    warnings: [" + ", ".join(c["warnings"]) + "]"]
    (OUT / "EXPECTED.yaml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    build()
    write()
    print(f"wrote {len(COHORT)} applications to {OUT}")
