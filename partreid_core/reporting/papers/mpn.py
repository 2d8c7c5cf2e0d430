"""mpn chapter: artefacts, claims and their verdicts from run records — to be written."""
