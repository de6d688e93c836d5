"""MTCNN: `torch_mtcnn.FaceDetector` (torch), `ort_mtcnn.OrtMtcnn` (onnxruntime + numpy),
`onnx_export` (its three networks as ONNX) and `params` (one definition of its settings)."""
