"""Real ReID datasets under PARTREID_DATA (Market-1501, DukeMTMC-reID, CUHK03-NP, MSMT17) — issue 2."""
