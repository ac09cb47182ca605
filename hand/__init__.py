"""The hand: MediaPipe's hand landmarker and the feature vector made from its landmarks, the
pretrained model files (resolved in one order, sha256 checked) and Google's gesture embedder."""
