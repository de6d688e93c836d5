"""FaceNet: `torch_facenet` (weights from `graph_source` through `tf_graph`),
`ort_facenet` (onnxruntime), `onnx_export` and `quantize` (static int8)."""
