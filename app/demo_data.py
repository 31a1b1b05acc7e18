"""What the demo tenant sells and to whom: its ideal customer profile, price book and six leads of
different fit, with what the demo reviewer does with each lead's email and proposal; its negotiation and
finance settings; and two coaching clients with their plan and check-ins."""

from datetime import date

ICP_DOCUMENT = {
    "title": "Ideal customer profile: corporate wellness",
    "content_type": "text/markdown",
    "tags": ["icp"],
    "content": """# Ideal customer profile

Demo Fitness Studio sells coached wellness programmes to employers.

## Who buys
- Target industries: software, fintech and professional services companies.
- Company size: 50 to 1000 employees; below 20 employees the programme does not pay for itself.
- Buyers: the Head of People, HR directors and office managers own the wellbeing budget.
- Regions: Germany, the Netherlands, Austria and the United Kingdom, where our coaches work on site.

## Why they buy
- Teams that sit all day report back pain and stress; our 8-week programme cut reported stress by 23%
  across 14 client teams in 2025.
- Employers use the programme to retain staff: 9 in 10 participants recommend it to a colleague.

## Who is not a fit
- Single-site retail and hospitality businesses with shift work we cannot schedule around.
""",
}

# The tenant's ICP criteria (tenant settings `icp`): the SDR agent judges a lead against each, and code
# turns the judgements into the score.
ICP_SETTINGS = {
    "criteria": [
        {"name": "industry", "description": "Software, fintech or professional services", "weight": 30},
        {"name": "company_size", "description": "50 to 1000 employees", "weight": 25, "required": True},
        {"name": "geography", "description": "Germany, the Netherlands, Austria or the United Kingdom", "weight": 20},
        {"name": "buyer_role", "description": "Head of People, HR or office management", "weight": 15},
        {"name": "buying_intent", "description": "Notes or source show interest: a question, a referral, a webinar",
         "weight": 10},
    ],
}

PRICE_BOOK = (
    {"code": "TEAM-8W", "name": "Team Kickstart (8 weeks)", "currency": "EUR", "list_price": "4800.00",
     "billing_period": "one_time",
     "description": "Eight weekly on-site group sessions for up to 20 people, with a kick-off assessment."},
    {"code": "WELL-YEAR", "name": "Corporate Wellness, annual", "currency": "EUR", "list_price": "18000.00",
     "billing_period": "yearly",
     "description": "Weekly sessions at up to two sites, quarterly health check-ins and a coach on call."},
    {"code": "EXEC-1ON1", "name": "Executive 1:1 Coaching", "currency": "EUR", "list_price": "950.00",
     "billing_period": "monthly",
     "description": "Four personal sessions a month for one executive, with a training and nutrition plan."},
)

LEADS_CSV = """name,email,company,title,industry,company_size,country,timezone,website,source,notes
Lena Vogel,lena.vogel@brightstack.example,Brightstack Software,Head of People,software,240,DE,Europe/Berlin,https://brightstack.example,webinar,Asked about on-site classes for two offices
Ruben de Groot,ruben@ledgerly.example,Ledgerly,HR Director,fintech,120,NL,Europe/Amsterdam,https://ledgerly.example,referral,Team grew fast this year
Sophie Brandt,sophie.brandt@kanzlei-brandt.example,Kanzlei Brandt,Office Manager,professional services,60,AT,Europe/Vienna,,website,
Tom Baker,tom@cornerbakery.example,Corner Bakery,Owner,retail,6,GB,Europe/London,,walk-in,Single shop
Mia Jensen,mia.jensen@quietmail.example,Northwind Analytics,People Partner,software,300,DE,Europe/Berlin,,conference,
Jana Novak,jana.novak@fernhill.example,Fernhill Consulting,HR Director,professional services,150,AT,Europe/Vienna,https://fernhill.example,referral,Wants a pilot for the Vienna office
"""

# The demo reviewer's decisions, by lead email: on the first email, then on the proposal. A review left for you
# stays pending, for a person to decide in the console (/console).
LEFT_FOR_YOU = "leave"
EDITED_SUBJECT = "An idea for the Ledgerly team's wellbeing"
REVIEW_PLAN = {
    "lena.vogel@brightstack.example": {"email": "approve", "proposal": "approve"},
    "ruben@ledgerly.example": {"email": "edit", "proposal": "approve"},
    "sophie.brandt@kanzlei-brandt.example": {"email": "reject"},
    "tom@cornerbakery.example": {},  # disqualified by the SDR agent: no email to review
    "mia.jensen@quietmail.example": {"email": "approve"},  # its domain is suppressed: nothing is sent
    "jana.novak@fernhill.example": {"email": LEFT_FOR_YOU},  # pending in the console's inbox
}
SUPPRESSED_DOMAIN = "quietmail.example"

# The price policy: at most 15 % off list, a reviewer past 8 %, three of our offers. The Team Kickstart
# package has a floor of 4300.00, above what its maximum discount allows (4080.00).
NEGOTIATION_POLICY = {"max_discount_pct": "15", "approval_threshold_pct": "8", "max_rounds": 3,
                      "allowed_concessions": ["longer_term", "upfront_payment", "smaller_scope"]}
PACKAGE_FLOORS = {"team-8w": {"floor_price": "4300.00", "currency": "EUR"}}
FINANCE_SETTINGS = {
    "seller": {"name": "Demo Fitness Studio GmbH", "address": "Torstraße 1, 10119 Berlin, Germany",
               "vat_id": "DE123456789", "email": "billing@demo-fitness.example"},
    "tax_rate": "19", "payment_terms_days": 14, "invoice_prefix": "DFS-{year}-",
}

# The clients' moves once they have the proposal, in order; after the last one they accept our standing
# offer. Lena asks for a little off (the agent meets her partway, within the policy); Ruben asks for far
# less than the floor (the offline negotiator's halfway answer is under the floor too: code refuses it,
# raises it to the floor and sends it to the reviewer, who approves it).
CLIENT_MOVES = {
    "lena.vogel@brightstack.example": [
        {"kind": "counter", "amount": "4560.00", "message": "Could you do 4560 for the eight weeks?"}],
    "ruben@ledgerly.example": [
        {"kind": "counter", "amount": "3400.00", "terms": {"concessions": ["upfront_payment"]},
         "message": "Our budget is 3400; we would pay upfront."}],
}

# Two coaching clients with a plan and four weeks of check-ins before the week under review, and that
# week: Anna is steady; Jonas stops checking in and his readiness falls (sleep down, stress and soreness up).
COACHING_PLAN = {
    "training_days_per_week": 4,
    "sessions": [
        {"day": "mon", "name": "Lower body strength", "duration_minutes": 60, "sets": 14},
        {"day": "tue", "name": "Upper body strength", "duration_minutes": 60, "sets": 14},
        {"day": "thu", "name": "Full body power", "duration_minutes": 50, "sets": 12},
        {"day": "sat", "name": "Conditioning circuit", "duration_minutes": 45, "sets": 10},
    ],
    "cardio_minutes_per_week": 90,
    "nutrition": {"calories_kcal": 2400, "protein_g": 150, "carbs_g": 260, "fat_g": 80},
    "check_in_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
}
COACHING_CLIENTS = (
    {"name": "Anna Schmidt", "email": "anna.schmidt@example.com", "timezone": "Europe/Berlin",
     "goal": "Run a half marathon in spring while keeping her strength"},
    {"name": "Jonas Weber", "email": "jonas.weber@example.com", "timezone": "Europe/Berlin",
     "goal": "Get back to training three to four times a week after a knee injury"},
)


def coaching_check_ins(email: str, week_start: date) -> list[dict]:
    """Deterministic check-ins: 28 baseline days before `week_start` (a Monday) and the 7 days of that week."""
    from datetime import timedelta

    struggling = email.startswith("jonas")
    rows = []
    for offset in range(-28, 7):
        day = week_start + timedelta(days=offset)
        in_review_week = offset >= 0
        wobble = (offset * 7) % 3  # a little day-to-day variation, the same on every run
        if struggling and in_review_week and offset in (1, 3, 4, 6):
            continue  # four of the week's seven check-ins never came
        tired = struggling and offset >= -3  # from the last days before the week, readiness falls
        fall = max(0, offset + 4) if tired else 0
        rows.append({
            "day": day.isoformat(),
            "weight_kg": f"{(81.0 if struggling else 63.5) - wobble * 0.1:.1f}",
            "sleep_hours": f"{max(4.5, 7.6 - 0.4 * fall - wobble * 0.2):.1f}",
            "sleep_quality": max(1, 4 - fall // 2) if tired else 4,
            "stress": min(5, 2 + fall // 2) if tired else 2,
            "mood": max(1, 4 - fall // 2) if tired else 4,
            "soreness": min(5, 2 + fall // 2) if tired else 2,
            "energy": max(1, 4 - fall // 2) if tired else 4,
            "training_adherence_pct": (55 if tired else 85) + wobble * 3,
            "nutrition_adherence_pct": (60 if tired else 90) - wobble * 2,
            "notes": "Knee felt stiff after Monday's session" if tired and offset == 0 else None,
        })
    return rows
