"""The names of the ONNX files faceunlock writes and reads (runtime cache and bundle)."""

MTCNN_NETS = ("pnet", "rnet", "onet")
MTCNN_FILES = tuple(f"{net}.onnx" for net in MTCNN_NETS)
EMBEDDER_FILES = {"fp32": "embedder.onnx", "int8": "embedder.int8.onnx"}
EMBEDDER_FILE = EMBEDDER_FILES["fp32"]
EMBEDDER_INT8_FILE = EMBEDDER_FILES["int8"]
HEAD_FILE = "head.onnx"  # live + enrolled embeddings -> p (the unlock network alone)
UNLOCK_FILE = "unlock.onnx"  # the fused crop -> p network of an export bundle
DEFAULT_OPSET = 17  # the ONNX opset faceunlock exports with
