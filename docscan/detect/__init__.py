"""Document detection: edge map -> page quadrilateral -> flat scan, and its evaluation.

Where things live:

- ``detector``: ``Detector`` (edge model + quad finder + warp), ``Detection``, ``warp_document``
- ``edge_model``: the Keras / .tflite edge-model adapters, ``load_edge_model``, ``model_frame``
- ``quad``: ``find_quad`` and ``candidate_quads`` (the quad finder's front; its steps are in
  ``quad_lines``, ``quad_candidates``, ``quad_pick``, ``quad_refine``, knobs in ``quad_params``)
- ``native``: the same steps' per-frame arithmetic in C (``quad_native.c``, built on first use;
  numpy where there is no C compiler or ``DOCSCAN_NATIVE=0``), for speed only
- ``geometry``: plane geometry (``order_corners``, ``polygon_iou``, ``corner_error``, ...)
- ``camera_file`` (with ``jpeg``: header size, EXIF orientation): camera JPEGs decoded at the
  reduced scale detection needs (``Detector.detect_camera_file``)
- ``frames``: ``FrameDetector`` for preview frames in memory (RGB, NV21, I420), no per-call
  full-size buffers; ``frame_source``: frames from a video file or a folder
- ``image_io``, ``drawing``: photos in, PNGs and overlays out
- ``evaluate``: accuracy against labelled photos; ``classic``: the OpenCV baseline
"""
