// RUN: rm -rf %t && attn-compile %s -o %t/bundle --function=gqa
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/bundle/manifest.json
// RUN: FileCheck %s --check-prefix=PTX < %t/bundle/kernels.ptx
// A relative output directory is written where it names, next to the
// current directory's entries, not under the system's temporary directory.
// RUN: mkdir -p %t/cwd && cd %t/cwd && attn-compile %s -o sub/relative --function=gqa && test -f %t/cwd/sub/relative/manifest.json
// RUN: not attn-compile %s -o %t/f32 --function=f32_inputs 2>&1 | FileCheck %s --check-prefix=F32
// RUN: not test -e %t/f32
// PTXAS: attn-compile: ptxas ({{.*}}fakebin/ptxas -arch=sm_90a) rejects the {{PTX}}:
// PTXAS-NEXT: fake ptxas: rejected -arch=sm_90a
// PTXAS-NEXT: (--ptxas-check=false skips this check)
// RUN: not attn-compile %s -o %t/none --function=missing 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not attn-compile %s -o %t/both 2>&1 | FileCheck %s --check-prefix=SEVERAL
// RUN: attn-compile %s -o %t/shared --function=shared_buffer && FileCheck %s --check-prefix=SHARED < %t/shared/manifest.json
// The bundle is checked before it replaces anything: a ptxas that rejects
// the PTX (a stand-in first on the PATH, receiving the chip) fails the
// compile, names ptxas and its messages, and leaves the previous bundle in
// place; --ptxas-check=false skips the check.
// RUN: mkdir -p %t/fakebin && echo '#!/bin/sh' > %t/fakebin/ptxas && echo 'echo "fake ptxas: rejected $1" >&2; exit 3' >> %t/fakebin/ptxas && chmod +x %t/fakebin/ptxas
// RUN: not env PATH=%t/fakebin attn-compile %s -o %t/bundle --function=gqa --chip=sm_90a 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/bundle/manifest.json
// RUN: env PATH=%t/fakebin attn-compile %s -o %t/unchecked --function=gqa --ptxas-check=false && test -f %t/unchecked/kernels.ptx

// MANIFEST: "format": "attn-bundle",
// MANIFEST: "version": 1,
// MANIFEST: "name": "gqa",
// MANIFEST: "target": "sm_80",
// MANIFEST: "name": "q",
// MANIFEST-NEXT: "dtype": "f16",
// MANIFEST-NEXT: "shape": [
// MANIFEST-NEXT: "B",
// MANIFEST-NEXT: 8,
// MANIFEST-NEXT: "Nq",
// MANIFEST-NEXT: 64
// MANIFEST: "name": "k",
// MANIFEST: "Hk",
// MANIFEST: "constraints": [
// MANIFEST-NEXT: "8 % Hk == 0"
// MANIFEST: "kernel": "gqa_kernel",
// MANIFEST-NEXT: "grid": [
// MANIFEST-NEXT: "ceildiv(Nq, 128)",
// MANIFEST-NEXT: "8",
// MANIFEST-NEXT: "B"
// Four 64-row stages of K and V (they fit twice per SM at D = 64), rows
// padded to 72 halves: 4 x 2 x 64 x 72 x 2.
// MANIFEST: "shared_bytes": 73728,
// The kernel parameters in role order (anchored by attn-to-gpu).
// MANIFEST-NEXT: "args": [
// MANIFEST-NEXT: "q",
// MANIFEST-NEXT: "k",
// MANIFEST-NEXT: "v",
// MANIFEST-NEXT: "o"
// MANIFEST-NEXT: ],
// MANIFEST-NEXT: "abi": "memref"

// PTX: .target sm_80
// PTX: .entry gqa_kernel(
// No libdevice call: lit runs without CUDA_HOME, where gpu-module-to-binary
// would not link libdevice (attn-to-gpu's DeviceMath.h).
// PTX-NOT: __nv_

// F32: error: 'attn.fused.forward' op attn-to-gpu: element type f32 is not supported on sm_80 (use f16 or bf16)
// MISSING: error: attn-compile: no function named 'missing'
// One buffer read as both q and k is one argument, described by its first
// role (self-attention).
// SHARED: "name": "q",
// SEVERAL: error: attn-compile: several functions hold attention ops; pick one with --function

func.func @gqa(%q: memref<?x8x?x64xf16>, %k: memref<?x?x?x64xf16>,
               %v: memref<?x?x?x64xf16>, %o: memref<?x8x?x64xf16>) {
  %c = attn.mask.causal
  attn.attention ins(%q, %k, %v : memref<?x8x?x64xf16>, memref<?x?x?x64xf16>,
                     memref<?x?x?x64xf16>) outs(%o : memref<?x8x?x64xf16>) mask(%c)
  return
}

func.func @f32_inputs(%q: memref<?x?x?x64xf32>, %k: memref<?x?x?x64xf32>,
                      %v: memref<?x?x?x64xf32>, %o: memref<?x?x?x64xf32>) {
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xf32>, memref<?x?x?x64xf32>,
                     memref<?x?x?x64xf32>) outs(%o : memref<?x?x?x64xf32>)
  return
}

func.func @shared_buffer(%q: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>) {
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>,
                     memref<?x?x?x64xf16>) outs(%o : memref<?x?x?x64xf16>)
  return
}
