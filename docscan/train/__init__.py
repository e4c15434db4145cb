"""Training: synthetic data, HED training, the region head, the dev-photo check.

* ``synth/``: the synthetic document stream (``make_sample``, ``make_dataset``, ``write_set``);
* ``hed``: ``docscan train``: ``TrainConfig`` and ``train`` (set-up, steps, evaluation, the loop);
* ``losses``: the class-balanced edge loss and the region loss;
* ``checkpoint``: checkpoints written as one set, resumed from; model files in and out;
* ``dev_set``: the labelled real dev photos as arrays; ``metrics``: edge F-score, region IoU;
* ``curves``: the training curves as PNG;
* ``region_head`` and ``region_taps``: ``docscan train-region`` (a new region head on a
  frozen backbone, trained on cached backbone taps).

Nothing here prints: progress goes through ``docscan.progress``.
"""
