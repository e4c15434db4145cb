"""docscan: document-detection CNNs from Keras to fast, verified TensorFlow Lite on ARM."""

__version__ = "0.1.0"
