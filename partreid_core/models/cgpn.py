"""cgpn model — to be written (issue 4)."""
