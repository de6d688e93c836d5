"""The networks, each in one place with its weights, its torch form and its torch-free form.

- `models.mtcnn`: the MTCNN face detector (torch, and its onnxruntime + numpy port) and
  its parameters;
- `models.facenet`: the FaceNet embedder (weights converted offline from a TensorFlow
  graph, torch and onnxruntime forms, ONNX export, int8 quantisation);
- `models.unlock_head`: the calibrated unlock network (torch for training and export,
  numpy for every decision) and its shipped weights (`models/weights/`);
- `models.face`, `models.crop`: a detected face and the crop the embedder sees.

This package imports nothing from the rest of faceunlock, and nothing heavy at import
time.
"""
