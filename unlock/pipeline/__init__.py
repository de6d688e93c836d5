"""The one face pipeline every job shares: frame -> faces -> crop -> embedding.

`core` holds the logic, `torch_pipeline` and `ort_pipeline` choose the networks,
`runtime` picks one from the command line and config, `runtime_models` provides the onnx
runtime's networks.
"""
