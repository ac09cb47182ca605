"""What benchmark.py and spellbench.py measure with: the live, classifier, preprocess, process and
page timings, their inputs, and spelling streams built from signers' photos."""
