"""The demo tenant's accounts: generated profiles plus the story accounts' overrides (see seed.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bot.sandbox.billing import add_months

__all__ = ["FIRST_NAMES", "FOUNDERS", "LAST_NAMES", "MONTHS", "NEW_PER_MONTH", "PLAN_PRICES", "Profile", "profiles"]

MONTHS = 12
FOUNDERS = 20
NEW_PER_MONTH = 5
D = Decimal

_NAMES = [
    "Acme Corporation", "Northwind Traders", "Globex Retail", "Initech Software", "Umbrella Health",
    "Hooli Media", "Stark Logistics", "Soylent Foods", "Cyberdyne Systems", "Wayne Enterprises",
    "Helping Hands Foundation", "Vandelay Industries", "Tyrell Analytics", "Gringotts Finance",
    "Pied Piper Labs", "Dunder Mifflin Paper", "Oscorp Biotech", "Wonka Confections", "Monarch Travel",
    "Prestige Worldwide", "Blue Sun Energy", "Massive Dynamic", "Aperture Devices", "Nakatomi Trading",
    "Virtucon Holdings", "Gekko & Co", "Bluth Properties", "Los Pollos Supply", "Sterling Cooper Ads",
    "Rekall Memories", "Duff Beverages", "Krusty Foods", "Spacely Sprockets", "Cogswell Cogs",
    "Ollivander Crafts", "Zorg Industries", "Weyland Mining", "Tessier Ashpool", "Abstergo Health",
    "Black Mesa Research", "Yoyodyne Propulsion", "Genco Olive Oil", "Kramerica Goods", "Vehement Capital",
    "Big Kahuna Burgers", "Frobozz Magic", "Gadgetron Tools", "Ewing Oil", "Buy n Large",
    "Mooby Restaurants", "Strickland Propane", "Wernham Hogg", "Paddy's Pub Group", "Central Perk Cafes",
    "Benthic Petroleum", "InGen Parks", "Omni Consumer", "Soylent Green Farms", "Praxis Security",
    "Silver Shamrock", "Sirius Cybernetics", "Hanso Foundation", "Lacuna Systems", "Nuka Cola Works",
    "Vault-Tec Housing", "Brawndo Nutrition", "Chotchkie's Diners", "Dinoco Fuel", "Kwik-E-Mart Stores",
    "Mom's Friendly Robots",
]
FIRST_NAMES = ["Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hiro", "Ines", "Jamal", "Kira", "Liam",
          "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara"]
LAST_NAMES = ["Ito", "Novak", "García", "Okafor", "Schmidt", "Dubois", "Khan", "Larsen", "Rossi", "Silva",
         "Nguyen", "Walsh", "Moreau", "Kowalski", "Haddad", "Berg"]
# (country, state, city, currency, tax name, rate %)
_PLACES = [
    ("United States", "California", "San Francisco", "USD", "CA State Tax", D("7.25")),
    ("United States", "New York", "New York", "USD", "NY State Tax", D("8.875")),
    ("United States", "Texas", "Austin", "USD", "TX State Tax", D("8.25")),
    ("United States", "Washington", "Seattle", "USD", "WA State Tax", D("6.5")),
    ("United States", "Oregon", "Portland", "USD", "No sales tax", D("0")),
    ("Germany", None, "Berlin", "EUR", "DE VAT", D("19")),
    ("France", None, "Lyon", "EUR", "FR VAT", D("20")),
    ("United Kingdom", None, "Manchester", "GBP", "UK VAT", D("20")),
]
PLAN_PRICES = {"Starter": D("15.00"), "Growth": D("30.00"), "Enterprise": D("45.00")}
_CARDS = [("Visa", "4242"), ("MasterCard", "4444"), ("AmericanExpress", "0005"), ("Visa", "1881"),
          ("Discover", "1117"), ("MasterCard", "5100")]


@dataclass
class Profile:
    number: int
    name: str
    start: int
    plan: str
    seats: list[tuple[date, int]]
    place: tuple
    payer: str
    usage: dict[int, int]
    included: int = 10_000
    platform_fee: Decimal | None = None
    discount: tuple[Decimal, int] | None = None
    """(percent, months) from the subscription start."""
    setup_fee: Decimal | None = None
    card: tuple[str, str, int, int] | None = None
    declines: dict[int, tuple[str, str, int | None]] = field(default_factory=dict)
    """month index → (gateway code, message, days until a successful retry or None)."""
    unpaid_from: int | None = None


def profiles(rng: random.Random, first_month: date) -> list[Profile]:
    def month(i: int) -> date:
        return add_months(first_month, i)

    out: list[Profile] = []
    total = FOUNDERS + NEW_PER_MONTH * (MONTHS - 2)
    for n in range(1, total + 1):
        start = 0 if n <= FOUNDERS else 2 + (n - FOUNDERS - 1) // NEW_PER_MONTH
        plan = rng.choice(["Starter", "Growth", "Growth", "Enterprise"])
        seats = rng.randint(3, 60)
        changes = [(month(start), seats)]
        if rng.random() < 0.3 and start < MONTHS - 2:
            when = month(rng.randint(start + 1, MONTHS - 2)) + timedelta(days=rng.randint(5, 20))
            changes.append((when, max(1, seats + rng.choice([-3, -2, 2, 3, 5, 8]))))
        base = rng.randint(2_000, 30_000)
        usage = {i: max(0, int(base * rng.uniform(0.7, 1.3))) for i in range(start, MONTHS)}
        payer = rng.choices(["card", "ach", "external"], weights=[70, 15, 15])[0]
        brand, last4 = rng.choice(_CARDS)
        out.append(Profile(
            number=n, name=_NAMES[n - 1], start=start, plan=plan, seats=changes,
            place=rng.choice(_PLACES), payer=payer, usage=usage,
            platform_fee=D("500.00") if plan == "Enterprise" else None,
            discount=(D(10), 2) if n > FOUNDERS and rng.random() < 0.3 else None,
            setup_fee=D("250.00") if n > FOUNDERS else None,
            card=(brand, last4, rng.randint(1, 12), first_month.year + rng.randint(2, 4)),
        ))

    tx = _PLACES[2]
    out[1] = Profile(  # A00000002: the INV00000042 story
        number=2, name=_NAMES[1], start=0, plan="Growth", place=tx, payer="card",
        seats=[(month(0), 10), (month(1) + timedelta(days=14), 15)],
        usage={0: 11_000, 1: 23_500, **{i: rng.randint(12_000, 20_000) for i in range(2, MONTHS)}},
        discount=(D(10), 2), card=("Visa", "4242", 8, first_month.year + 3))
    p = out[2]  # A00000003 soft decline, an earlier one recovered by a retry
    p.payer, p.declines = "card", {8: ("51", "Insufficient funds", 3), MONTHS - 1: ("51", "Insufficient funds",
                                                                                    None)}
    p = out[3]  # A00000004 hard decline
    p.payer, p.declines = "card", {MONTHS - 1: ("43", "Stolen card, pick up", None)}
    p = out[4]  # A00000005 card expired at the end of month 10 (index 9)
    expiry = month(MONTHS - 3)
    p.payer, p.card = "card", ("MasterCard", "5454", expiry.month, expiry.year)
    p.declines = {MONTHS - 2: ("54", "Expired card", None), MONTHS - 1: ("54", "Expired card", None)}
    p = out[5]  # A00000006 card expires at the end of next month
    soon = add_months(month(MONTHS - 1), 1)
    p.payer, p.card = "card", ("Visa", "0077", soon.month, soon.year)
    p = out[6]  # A00000007 overdue, pays by wire, large balance
    p.plan, p.payer, p.place, p.platform_fee = "Enterprise", "external", _PLACES[1], D("500.00")
    p.seats, p.unpaid_from = [(month(0), 120)], MONTHS - 4
    p = out[9]  # A00000010 usage spike in the last month
    p.payer, p.usage[MONTHS - 2] = "card", 400_000
    p = out[10]  # A00000011 non-profit: 100 % discount
    p.plan, p.payer, p.platform_fee, p.discount = "Starter", "card", None, (D(100), MONTHS)
    p.usage = dict.fromkeys(p.usage, 4_000)
    out[11].payer = "external"  # A00000012 gets a credit memo
    for story in out[1:7] + out[9:11]:
        story.seats = story.seats if story.number in (2, 7) else [(month(0), story.seats[0][1])]
    return out
