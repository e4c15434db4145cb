"""Which files docscan reads as photos: one list for detect, eval, calibration and synth."""

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
