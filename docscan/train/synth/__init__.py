"""Synthetic document photos for HED training: image, page-boundary edge map, 4 corners.

A sample is a "phone photo" of one page: the seed author's real background photos and
flat page images (``<shared>/data/author-hed-samples/sample_images/``) plus procedural
ones (text pages, tables, photos, blank/coloured paper, receipts, ID cards on wood,
tiles, fabric, cluttered desks, white-on-white), with perspective, rotation, partly
out-of-frame pages, curl, occluding fingers and objects, shadows, glare, uneven light,
blur, noise and JPEG artefacts. Everything is drawn from ``numpy.random.default_rng
((seed, index))``, so sample ``index`` of stream ``seed`` is always the same picture.

Conventions (shared with ``docscan detect`` / ``docscan eval``):

* ``size`` is ``(height, width)`` of the returned image.
* ``image``: uint8 RGB, (H, W, 3). The network sees it as float32 RGB in [0, 1],
  resized to the model input size as a whole frame: no crop, aspect ratio ignored.
  For a square ``size`` (training) the scene is composed at a random camera aspect
  (3:4, 4:3, 9:16, 1:1) and then squashed to the square, exactly as a real frame is
  squashed at inference; for a non-square ``size`` the scene is composed at that aspect.
* ``edges``: float32 (H, W) in [0, 1], the visible page boundary only, drawn
  anti-aliased about 1-2 px wide (HED style). Parts hidden by fingers or objects and
  the frame border are not edges.
* ``region``: float32 (H, W) in [0, 1], the whole page (also where it is occluded):
  the target of the optional region head (``docscan.zoo.hed``).
* ``corners``: float32 (4, 2) of (x, y) pixel coordinates in ``image``, clockwise as
  seen in the image (y down), starting with the corner of smallest x + y. Corners may
  lie outside the frame when the page is partly out of frame.

The modules, in the order a scene is built:

* ``assets``: the real photos (loaded once per process);
* ``texture``: noise, colours, jitter and crops every part draws with;
* ``surfaces``: what the page lies on; ``pages``: the page itself, flat;
* ``geometry``: where the page lies (quad, curl, outline); ``clutter``: fingers and objects;
* ``photo``: light and camera; ``sample``: one sample, composed, with its labels;
* ``dataset``: the stream as ``tf.data``; ``write``: a fixed set on disk.

This package's names are the public API (``from docscan.train.synth import make_sample``).
"""

from docscan.train.synth.assets import real_backgrounds, real_pages
from docscan.train.synth.dataset import make_dataset
from docscan.train.synth.sample import Sample, iter_samples, make_sample
from docscan.train.synth.write import write_set

__all__ = ["Sample", "iter_samples", "make_dataset", "make_sample", "real_backgrounds", "real_pages", "write_set"]
