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
    Every `attn.linear_attention` becomes the two-phase scheme of
    `attn.fused.linear` steps over segments of tokens, as many per
    (batch, head) as `linear-units` asks for or of `linear-segment` tokens
    (passes/Tile/LinearTile.cpp).
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
    Option<"gatherRows", "gather-rows", "bool", /*default=*/"false",
           "Over sorted tokens: copy Q, K and V into sorted order first "
           "(attn.gather_rows) instead of loading through the orders">,
    Option<"linearBlock", "linear-block", "int64_t", /*default=*/"64",
           "Linear attention: tokens per chunk (a power of two, 16 to 256)">,
    Option<"linearSegment", "linear-segment", "int64_t",
           /*default=*/"0",
           "Linear attention: tokens per segment of the two-phase scheme "
           "(a multiple of linear-block; 0 = chosen at run time from "
           "linear-units)">,
    Option<"linearUnits", "linear-units", "int64_t", /*default=*/"128",
           "Linear attention with linear-segment = 0: the (batch, head, "
           "segment) units to aim for; segments are split only while "
           "batch x heads is smaller">,
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
  let summary = "Lower L2 q-tile nests (scf.forall + attn.fused.forward or "
                "attn.tile ops) to named gpu.launch kernels";
  let description = [{
    Maps each q-tile nest written by attn-tile to one `gpu.launch`: grid
    (q-tiles, query heads, batch), `block-threads` threads per block, the
    kernel named after the function (one gpu.module per function). The
    nest's `attn.fused.forward` is lowered as a unit by the chip's emitter
    (sm_80: register-resident FlashAttention-2 with mma.sync, ldmatrix and
    a cp.async K/V pipeline; sm_90a uses the same emitter for now). A step
    the emitter declines is decomposed into attn.tile ops and lowered per
    op (thread-distributed loops, all tiles in shared memory), with a
    remark that says why. Values the kernel needs besides its memref
    operands are recomputed inside the launch, so that the kernel's
    parameters are exactly its memrefs. The launch facts (grid expressions,
    block, shared memory, argument roles) go into the function's
    `attn.bundle` attribute for the bundle writer. The file layout is in
    passes/AttnToGPU/README.md.
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
