"""The SAT N:M sparse training accelerator model: tile contract, GEMM cycle kernel, training step."""
