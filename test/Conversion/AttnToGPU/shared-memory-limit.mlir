// RUN: not attn-opt %s --attn-tile="block-q=256 block-k=64" --attn-to-gpu="mma=false" 2>&1 | FileCheck %s --check-prefix=SM80
// RUN: not attn-opt %s --attn-tile="block-q=256 block-k=64" --attn-to-gpu="mma=false chip=sm_90a" 2>&1 | FileCheck %s --check-prefix=SM90

// Tiles that do not fit the block's dynamic shared memory are diagnosed at
// compile time with the byte count and the chip's limit (163 KiB on sm_80).
// At D = 256 with 256-row q-tiles the per-op lowering keeps Q, K, V, S and
// acc in shared memory (rows padded): far more than either chip has.
// SM80: shared-memory-limit.mlir:[[@LINE+3]]:3: error: 'scf.forall' op attn-to-gpu: tiles need {{[0-9]+}} bytes of shared memory, more than the 166912 bytes a block has on sm_80; use smaller block-q/block-k (e.g. 32) or a smaller head dimension
// SM90: error: 'scf.forall' op attn-to-gpu: tiles need {{[0-9]+}} bytes of shared memory, more than the 232448 bytes a block has on sm_90a
func.func @too_much_shared(%q: memref<?x?x?x256xbf16>, %o: memref<?x?x?x256xbf16>) {
  attn.plan ins(%q, %q, %q : memref<?x?x?x256xbf16>, memref<?x?x?x256xbf16>, memref<?x?x?x256xbf16>) outs(%o : memref<?x?x?x256xbf16>) scale(0.125) schedule(dense)
  return
}
