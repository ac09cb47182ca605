"""The live path: the per-frame recogniser, frame sources, annotated outputs and the overlay, signer
adaptation, and photos played as clips through it."""
