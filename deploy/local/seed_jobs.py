"""Load a realistic catalogue into a running jobs service through its admin API (`make seed`).

Jobs go through POST /v1/jobs, so their JobPosted events flow like any other. Each seeded job has a
requisition id SEED-NNNN, which makes seeding idempotent: a second run is answered 409 and skips.
"""

import asyncio
import random

import httpx

JOB_COUNT = 240
FEATURED_COUNT = 8

TITLES = {
    "Nursing": [
        "Registered Nurse - ICU",
        "Registered Nurse - Emergency Department",
        "Charge Nurse - Oncology",
        "Nurse Practitioner - Cardiology",
        "Clinical Nurse Educator",
        "Registered Nurse - Labor and Delivery",
        "Licensed Practical Nurse",
        "Registered Nurse - Pediatrics",
    ],
    "Physicians": [
        "Hospitalist",
        "Emergency Medicine Physician",
        "Anesthesiologist",
        "Family Medicine Physician",
        "Pediatric Cardiologist",
        "Radiologist",
    ],
    "Allied Health": [
        "Respiratory Therapist",
        "Physical Therapist",
        "Occupational Therapist",
        "Radiologic Technologist",
        "Sonographer",
        "Medical Laboratory Scientist",
        "Phlebotomist",
        "Surgical Technologist",
    ],
    "Research": [
        "Clinical Research Coordinator",
        "Research Data Analyst",
        "Clinical Trials Manager",
        "Biostatistician",
        "Laboratory Research Technician",
    ],
    "IT": [
        "Epic Analyst",
        "Systems Administrator",
        "Software Engineer - Patient Portal",
        "Information Security Analyst",
        "Help Desk Technician",
        "Data Engineer",
    ],
    "Administrative": [
        "Patient Access Representative",
        "Medical Secretary",
        "Revenue Cycle Specialist",
        "Practice Manager",
        "Medical Coder",
    ],
    "Environmental Services": [
        "Environmental Services Technician",
        "Floor Care Technician",
        "Environmental Services Supervisor",
        "Linen Services Aide",
    ],
    "Pharmacy": [
        "Clinical Pharmacist",
        "Pharmacy Technician",
        "Oncology Pharmacist",
        "Pharmacy Operations Manager",
    ],
    "Food and Nutrition": ["Clinical Dietitian", "Food Service Worker", "Cook"],
    "Behavioral Health": [
        "Licensed Clinical Social Worker",
        "Psychiatric Nurse",
        "Behavioral Health Technician",
    ],
}
LOCATIONS = [
    "Durham, NC",
    "Raleigh, NC",
    "Chapel Hill, NC",
    "Cary, NC",
    "Wake Forest, NC",
    "Morrisville, NC",
    "Hillsborough, NC",
    "Apex, NC",
    "Garner, NC",
    "Remote",
]
EMPLOYMENT_TYPES = ["Full-time", "Part-time", "PRN", "Contract"]
UNITS = [
    "Duke Regional Hospital",
    "the Cancer Institute",
    "the Heart Center",
    "the Children's Hospital",
    "the Eye Center",
    "Ambulatory Surgery",
    "the Main Campus",
]
SHIFTS = ["day shift", "night shift", "rotating shifts", "weekends", "a Monday-Friday schedule"]
SKILLS = [
    "ICU",
    "Epic",
    "BLS",
    "ACLS",
    "trauma",
    "telemetry",
    "pediatrics",
    "oncology",
    "wound care",
    "SQL",
    "HIPAA",
    "sterile processing",
    "infection control",
]


def catalogue(seed: int = 2026) -> list[dict[str, object]]:
    rng = random.Random(seed)
    featured = set(rng.sample(range(JOB_COUNT), FEATURED_COUNT))
    jobs = []
    for n in range(JOB_COUNT):
        category = rng.choice(sorted(TITLES))
        title = rng.choice(TITLES[category])
        skills = ", ".join(rng.sample(SKILLS, 2))
        jobs.append(
            {
                "title": title,
                "category": category,
                "location": rng.choice(LOCATIONS),
                "description": (
                    f"Join our team at {rng.choice(UNITS)} as {title}, working "
                    f"{rng.choice(SHIFTS)}. Experience with {skills} is a plus. We offer "
                    "tuition assistance, retirement matching and paid time off from day one."
                ),
                "employment_type": rng.choice(EMPLOYMENT_TYPES),
                "featured": n in featured,
                "requisition_id": f"SEED-{n + 1:04d}",
            }
        )
    return jobs


async def seed(jobs_url: str, admin_token: str) -> tuple[int, int]:
    created = skipped = 0
    headers = {"Authorization": f"Bearer {admin_token}"}
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=jobs_url, headers=headers, timeout=30) as client:

        async def post(job: dict[str, object]) -> None:
            nonlocal created, skipped
            async with limit:
                response = await client.post("/v1/jobs", json=job)
            if response.status_code == 409:
                skipped += 1
            else:
                response.raise_for_status()
                created += 1

        await asyncio.gather(*(post(job) for job in catalogue()))
    return created, skipped


def load_catalogue(jobs_url: str, admin_token: str) -> None:
    """Seed the jobs service at ``jobs_url``; httpx.HTTPError when it does not take a job."""
    created, skipped = asyncio.run(seed(jobs_url, admin_token))
    print(f"seed: {created} jobs created, {skipped} already there ({jobs_url})", flush=True)
