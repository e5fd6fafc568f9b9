// attn-lower-to-cpu takes an L0 example to the LLVM dialect: one llvm.func
// with the kernel's name, and no attn, func, scf, cf, memref, arith or math op
// left (the pipeline ends with attn-check-form{form=llvm}).
// RUN: attn-opt %attn_src_root/examples/causal.mlir --attn-lower-to-cpu \
// RUN:   | FileCheck %s --check-prefixes=CHECK,DEFAULT
// RUN: attn-opt %attn_src_root/examples/causal.mlir --attn-lower-to-cpu \
// RUN:   | FileCheck %s --check-prefix=NONE
// The pipeline options reach attn-tile: 32 x 16 tiles instead of 64 x 64.
// RUN: attn-opt %attn_src_root/examples/causal.mlir \
// RUN:   --attn-lower-to-cpu="block-q=32 block-k=16" \
// RUN:   | FileCheck %s --check-prefixes=CHECK,BLOCKS
// RUN: attn-opt %attn_src_root/examples/causal.mlir \
// RUN:   --attn-lower-to-cpu="block-q=32 block-k=16" \
// RUN:   | FileCheck %s --check-prefix=NONE
// A custom predicate mask lowers as well.
// RUN: attn-opt %attn_src_root/examples/custom.mlir --attn-lower-to-cpu \
// RUN:   | FileCheck %s --check-prefix=CUSTOM
// RUN: attn-opt %attn_src_root/examples/custom.mlir --attn-lower-to-cpu \
// RUN:   | FileCheck %s --check-prefix=NONE

// NONE-NOT:      {{attn\.|func\.func|scf\.|cf\.|memref\.|arith\.|math\.}}

// CHECK:         module {
// CHECK-NEXT:    llvm.func @causal(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr,
// The tiles: Q, K, V (bf16, [Bq|Bk] x 128), S (f32, Bq x Bk), the row max
// and row sum (f32, Bq) and the accumulator (f32, Bq x 128).
// DEFAULT-DAG:   %[[QN:.+]] = llvm.mlir.constant(8192 : index) : i64
// DEFAULT-DAG:   llvm.alloca %[[QN]] x bf16
// DEFAULT-DAG:   %[[SN:.+]] = llvm.mlir.constant(4096 : index) : i64
// DEFAULT-DAG:   llvm.alloca %[[SN]] x f32
// BLOCKS-DAG:    %[[QN:.+]] = llvm.mlir.constant(4096 : index) : i64
// BLOCKS-DAG:    llvm.alloca %[[QN]] x bf16
// BLOCKS-DAG:    %[[KN:.+]] = llvm.mlir.constant(2048 : index) : i64
// BLOCKS-DAG:    llvm.alloca %[[KN]] x bf16
// BLOCKS-DAG:    %[[SN:.+]] = llvm.mlir.constant(512 : index) : i64
// BLOCKS-DAG:    llvm.alloca %[[SN]] x f32
// Online softmax (exp) and finalize (log).
// CHECK-DAG:     llvm.intr.exp
// CHECK-DAG:     llvm.intr.log
// CHECK:         llvm.return
// CHECK-NEXT:  }
// CHECK-NEXT:  }

// CUSTOM:        llvm.func @prefix_lm(
// CUSTOM:        llvm.return
