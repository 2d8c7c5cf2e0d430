"""SynthReID: procedural pedestrians with part masks, keypoints and difficulty knobs — issue 3."""
