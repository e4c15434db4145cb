"""`docscan convert`: Keras -> verified .tflite, one module per pass.

loading (what a source is: .keras, SavedModel, zoo name), bn_fold and transpose_conv
(Keras graph passes), tflite_convert (TFLite converter), calibration (int8 images),
inventory (flatbuffer reader), runtime_versions (which runtime runs which op), parity
(numbers vs Keras, which checks are gated), pipeline (all of it as one call, returning
results and writing the files). Tables for the terminal live in docscan/commands.
"""
