"""What the chapters render: paper-vs-ours tables, provenance lines, claims and their verdicts."""
from .claims import VERDICTS, Claim, Judgement, claims_table, judge
from .tables import paper_vs_ours, provenance

__all__ = ["VERDICTS", "Claim", "Judgement", "claims_table", "judge", "paper_vs_ours", "provenance"]
