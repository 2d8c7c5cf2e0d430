"""osnet_reid model — to be written (issue 4)."""
