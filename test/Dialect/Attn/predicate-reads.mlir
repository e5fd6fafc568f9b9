// RUN: attn-opt %s --split-input-file | FileCheck %s
// RUN: attn-opt %s --split-input-file --verify-roundtrip > /dev/null

// A predicate may read memory defined above it (per-row or per-column data)
// and contain nested masks and structured control flow; see
// predicate-body.mlir for what it may not contain.

// CHECK-LABEL: func.func @custom_reads
// CHECK: memref.load
// CHECK: scf.if
func.func @custom_reads(%q: memref<?x?x?x64xf16>, %rows: memref<?xindex>) {
  %m = attn.mask.custom (%i, %j) {
    %l = memref.load %rows[%i] : memref<?xindex>
    %c = arith.cmpi ult, %j, %l : index
    %ok = scf.if %c -> i1 {
      %n = attn.mask.causal
      %t = arith.constant true
      scf.yield %t : i1
    } else {
      %f = arith.constant false
      scf.yield %f : i1
    }
    attn.yield %ok : i1
  }
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m)
  return
}
