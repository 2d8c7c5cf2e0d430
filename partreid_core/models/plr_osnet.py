"""plr_osnet model — to be written (issue 4)."""
