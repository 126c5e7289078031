"""The fixed values the complaint slots accept (labels for them live in the domain responses)."""

CATEGORIES = (
    "billing", "refund", "delivery", "product_quality", "repair",
    "service_attitude", "long_wait", "policy_change", "safety", "other",
)
OUTCOMES = ("refund", "replacement", "repair", "apology", "compensation", "explanation")
