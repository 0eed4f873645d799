"""What a design costs to run, and the files that run it: multiply-accumulates, weight bytes, peak activation memory
(cost.py), the ONNX export checked against PyTorch (onnx_model.py), int8 static quantization with ONNX Runtime
(int8.py), batch-1 CPU latency (latency.py) and the record of all of them in a run directory (record.py)."""
