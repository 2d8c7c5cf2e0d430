"""mgn model — to be written (issue 4)."""
