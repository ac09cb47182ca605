"""Collections on disk: class names, class-folder discovery, the block split, the manifest and the
names of a photo's readings."""
