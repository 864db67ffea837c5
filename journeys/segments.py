"""The named segments, automatic tags and lead-score rules journeys and operators use.

Each segment is a rule in the language of :mod:`store.segments.rules`; it compiles to SQL and
serialises to JSON (``RuleAdapter.dump_json``), so a UI could edit these later.
"""

from __future__ import annotations

from store.segments import Catalog
from store.segments.rules import (
    LeadRule,
    Rule,
    all_of,
    any_of,
    did,
    did_not,
    none_of,
    prop,
    rfm,
    trait,
)

OPENED, CLICKED, ORDERED = "Email Opened", "Email Link Clicked", "Order Completed"

SEGMENTS: dict[str, Rule] = {
    # "Opened at least 3 emails in the last 30 days AND made a recent purchase."
    "engaged_buyers": all_of(
        did(OPENED, at_least=3, days=30),
        did(ORDERED, days=30),
    ),
    # "VIP: spent more than 500 € AND subscribed more than 2 years ago."
    "vip": all_of(
        trait("total_spent", ">", 500),
        trait("signup_at", "before", days=730),
    ),
    # "No click for 15 days" (contacts who never clicked included).
    "no_click_15d": did_not(CLICKED, days=15),
    # "Abandoned a cart in the last 7 days": added a product, did not order since a week.
    "cart_abandoners": all_of(
        did("Product Added", days=7),
        did_not(ORDERED, days=7),
    ),
    # Reactivation's entry: no open or click for 15 days. Only contacts known for over 30 days:
    # newer ones are still in welcome, which hands the disengaged over itself at day 30.
    "inactive": all_of(
        trait("created_at", "before", days=30),
        did_not(OPENED, days=15),
        did_not(CLICKED, days=15),
    ),
    # Loyalty's entry, the gold tier: 500 € spent in all, or a fifth order within two years.
    "loyal": any_of(
        trait("total_spent", ">=", 500),
        did(ORDERED, at_least=5, days=730),
    ),
    "champions": rfm("champions"),
    "at_risk": rfm("at_risk", "hibernating"),
}

AUTO_TAGS: dict[str, Rule] = {
    "engagement:high": any_of(
        did(OPENED, at_least=5, days=30),
        did(CLICKED, at_least=2, days=30),
    ),
    "inactive": all_of(
        trait("created_at", "before", days=30),
        none_of(did(OPENED, days=30), did(CLICKED, days=30), did(ORDERED, days=30)),
    ),
    "interest:fashion": did(
        "Product Viewed", at_least=3, days=30, where=[prop("category", "=", "fashion")]
    ),
}

LEAD_SCORE = (
    # +10 per purchase in the last week.
    LeadRule(points=10, per=did(ORDERED, days=7)),
    # −5 for a recent unsubscribe.
    LeadRule(points=-5, when=did("Unsubscribed", days=30)),
)

CATALOG = Catalog(segments=SEGMENTS, auto_tags=AUTO_TAGS, lead=LEAD_SCORE)
