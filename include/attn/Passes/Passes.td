//===- Passes.td - attn passes ----------------------------*- tablegen -*-===//

#ifndef ATTN_PASSES_PASSES_TD
#define ATTN_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnPlan : Pass<"attn-plan"> {
  let summary = "Mask analysis: attn.attention to attn.plan (L0 -> L1)";
  let description = [{
    Reduces the mask of every `attn.attention` to the form the tiler
    consumes: a band relative to the bottom-right diagonal (from causal and
    window masks), an in-tile predicate region (from user predicates) and a
    block schedule (`dense` without a band, `range` with one). `and`
    compositions intersect bands and conjoin predicates. Structures the
    planner does not handle yet are reported with a located error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def AttnTile : Pass<"attn-tile"> {
  let summary = "FlashAttention-2 tiling of attn.plan into fused steps "
                "(L1 -> L2)";
  let description = [{
    Rewrites every `attn.plan` into a `scf.forall` over (batch, query head,
    q-tile) whose body computes the q-tile's kv-tile range and runs one
    `attn.fused.forward`, the fused step every GPU emitter implements. The
    algorithm is stated in the header comment of passes/Tile/AttnTile.cpp.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"64",
           "Query rows per tile (a power of two, 16 to 256)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"0",
           "Key rows per tile (a power of two, 16 to 256; 0 = by head "
           "dim: 64 up to D = 128, else 32)">,
    Option<"rescaleThreshold", "rescale-threshold", "float",
           /*default=*/"8.0f",
           "How far (log2 units) a row's tile max may exceed the running "
           "max before it moves and acc is rescaled (0: always)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def AttnToCPU : Pass<"attn-to-cpu"> {
  let summary = "Lower attn.tile ops to scf/arith/math/memref loops (L2 -> "
                "CPU)";
  let description = [{
    Lowers each `attn.tile.*` op to scalar loops over its tile, so that the
    L2 form runs on the CPU through the LLVM dialect and the ExecutionEngine.
    The `scf.forall` bodies are wrapped in `memref.alloca_scope` so that tile
    buffers do not accumulate on the stack.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

def AttnToGPU : Pass<"attn-to-gpu"> {
  let summary = "Lower L2 (scf.forall + attn.tile ops) to gpu.launch kernels";
  let description = [{
    Maps each q-tile loop nest produced by attn-tile to one `gpu.launch`:
    grid (q-tiles, query heads, batch), `threads` threads per block, every
    tile in workgroup (shared) memory with rows padded by 4 bytes so that
    row-wise and column-wise walks are free of bank conflicts. Each
    attn.tile op becomes a loop over its elements distributed over the
    block's threads, followed by a barrier. Values the kernel needs besides
    its memref operands (extents, constants) are recomputed inside the
    launch, so that the kernel's parameters are exactly its memrefs. Global
    tile loads are 16-byte vector loads (the runtime requires 16-byte-aligned
    tensors).

    With `mma` (the default) the two products, Q Kᵀ and P V, run on tensor
    cores: each warp owns 16x8 output tiles and issues `mma.sync` m16n8k16
    with operands packed from shared memory (P rounded to the input type,
    as FlashAttention does). The softmax steps stay thread-distributed
    loops; register-resident S/P/acc, ldmatrix and cp.async pipelining are
    the next steps. `chip` selects the
    target; sm_80 code also runs on sm_90a.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "Target GPU: sm_80 or sm_90a">,
    Option<"threads", "block-threads", "int64_t", /*default=*/"128",
           "Threads per block (a multiple of 32, at most 1024)">,
    Option<"mma", "mma", "bool", /*default=*/"true",
           "Compute Q Kᵀ and P V with tensor cores (mma.sync m16n8k16) "
           "where the tile shapes allow">,
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnCheckForm : Pass<"attn-check-form", "::mlir::ModuleOp"> {
  let summary = "Fails unless the module is in the form a pipeline promises";
  let description = [{
    The last step of every named pipeline. `form=llvm` accepts only
    `builtin.module` and LLVM dialect ops; `form=ptx` accepts a module whose
    GPU code is compiled (`gpu.binary`) next to LLVM dialect host code;
    `form=tile` accepts no `attn` op
    but the `attn.tile.*` ops and `attn.yield`. Each offending op gets a
    located error naming the form.
  }];
  let options = [
    Option<"form", "form", "std::string", /*default=*/"\"llvm\"",
           "The promised form: llvm, ptx or tile">,
  ];
}

#endif // ATTN_PASSES_PASSES_TD
