"""`docscan convert`: Keras -> verified .tflite, one module per pass.

bn_fold (Keras graph), transpose_conv (Keras graph), tflite_convert (TFLite converter),
inventory (flatbuffer reader), parity (numbers vs Keras), report (JSON + table).
"""
