"""From committed letters to words: hold-to-commit, the spelled text, the lexicon, the word decoder
and speech."""
