"""OSNet (Zhou et al., ICCV 2019) x1.0 / x0.75 / x0.5 / x0.25 — to be written (issue 4)."""
