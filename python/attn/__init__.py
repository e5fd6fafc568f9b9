"""attn: structured-sparse attention compiled with MLIR.

attn.runtime loads compiled bundles and launches them on PyTorch tensors; it
needs only libAttnRuntime.so and the CUDA driver, never MLIR.
"""

from .runtime import AttnError, Bundle

__all__ = ["AttnError", "Bundle"]
