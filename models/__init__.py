"""The networks: MTCNN face detector, FaceNet embedder, crop, and the unlock network.

Each network is a small module with its weight loading beside it. This package
imports nothing heavy at import time.
"""
