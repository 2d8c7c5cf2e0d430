"""What the chapters render: paper-vs-ours tables, provenance lines, claims and their verdicts."""
from .claims import MARGIN_FAMILIES, VERDICT_RULE, VERDICTS, Claim, claims_table, verdict_rule_text
from .tables import paper_vs_ours, provenance

__all__ = ["MARGIN_FAMILIES", "VERDICT_RULE", "VERDICTS", "Claim", "claims_table",
           "paper_vs_ours", "provenance", "verdict_rule_text"]
