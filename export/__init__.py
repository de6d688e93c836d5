"""Export of the unlock pipeline to ONNX for phone-class hardware."""
