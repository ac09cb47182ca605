"""Landmarks to letter probabilities: the classifier interface, its PyTorch and ONNX back-ends, the
training loop and the ONNX export."""
